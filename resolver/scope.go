package resolver

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// CodeForbidden is the code of a field the caller's key lacks the scope for.
const CodeForbidden = "FORBIDDEN"

// hasScope implements the @hasScope directive: the field resolves only for
// a principal holding scope; otherwise it is null with a FORBIDDEN error
// naming the scope, and the rest of the request goes on.
//
// A mutation refused this way appends its audit entry, with outcome
// FORBIDDEN: every mutation a key attempts is in the log. The refusals of
// one operation are appended together, in one store write, once it has
// run (refusalAudit). So does a data export (dataExport), as the export
// endpoint's refusals do, before the field answers.
func (r *Resolver) hasScope(ctx context.Context, _ any, next graphql.Resolver, scope string) (any, error) {
	s, err := access.ParseScope(scope)
	if err != nil {
		return nil, &internalError{err: fmt.Errorf("schema names an unknown scope: %w", err)}
	}
	if p := access.PrincipalFrom(ctx); !p.Has(s) {
		err := forbidden(ctx, s)
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Mutation" {
			reason, _ := fc.Args["reason"].(string)
			switch {
			case erasures[fc.Field.Name]:
				reason = withheldReason // it may name the person to erase
			case graph.ReasonProblem(reason) != "" && reason != "":
				// The log keeps only a reason the mutation would take.
				reason = refusedReason
			case fc.Field.Name == "revokeApiKey":
				// As revokeKey's own entries: the key aimed at, when the
				// argument is shaped like a key id (anything else is not
				// repeated).
				if id, _ := fc.Args["id"].(string); access.ValidKeyID(id) {
					reason = "key " + id
				}
			}
			e := newEntry(ctx, fc.Field.Name, reason)
			if l, ok := ctx.Value(refusalLogKey{}).(*refusalLog); ok {
				e.Outcome = outcomeOf(err)
				l.add(e)
			} else {
				r.auditFailure(ctx, e, err)
			}
		}
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Query" && fc.Field.Name == "dataExport" {
			// A data export refused, as over HTTP (server.PrivacyRefusals):
			// the profile asked for is named when it is shaped as an id.
			e := newEntry(ctx, privacy.ExportAction, access.ScopeRefusedReason(s))
			if id, _ := fc.Args["profileId"].(string); graph.ProfileIDShape(id) {
				e.SetProfiles([]string{id})
			}
			r.auditFailure(ctx, e, err)
		}
		return nil, err
	}
	return next(ctx)
}

// forbidden is the error of a field refused for want of scope s.
func forbidden(ctx context.Context, s access.Scope) error {
	msg := fmt.Sprintf("this field needs the scope %s, which the request's key does not hold", s)
	if access.PrincipalFrom(ctx).Key == nil && !access.PrincipalFrom(ctx).Open {
		msg = fmt.Sprintf("this field needs the scope %s, and the request carries no key", s)
	}
	return &gqlerror.Error{
		Message:    msg,
		Path:       graphql.GetPath(ctx),
		Extensions: map[string]any{"code": CodeForbidden, "scope": string(s)},
	}
}

// inAudienceForbidden refuses the inAudience condition at path to a caller
// without audiences:read.
func inAudienceForbidden(ctx context.Context, path string) error {
	return &gqlerror.Error{
		Message: fmt.Sprintf("%s: an inAudience condition reads audience membership, which needs the scope %s, which the request's key does not hold",
			path, access.ScopeAudiencesRead),
		Path:       graphql.GetPath(ctx),
		Extensions: map[string]any{"code": CodeForbidden, "scope": string(access.ScopeAudiencesRead)},
	}
}
