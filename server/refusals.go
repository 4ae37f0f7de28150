package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/reqid"
	"github.com/idgraph/cdp/privacy"
)

// The audit of reads refused for want of scope. A key that asks for a
// data export, an audience export or a backup without the scope it needs
// is refused by the guard (auth.Guard.RequireAllAudited) before the
// handler runs; the functions here append that refusal's entry, as a
// mutation refused for want of scope appends its own: who (the key), what
// (the action the request would have been), and the scope it lacked
// (access.ScopeRefusedReason), with the outcome FORBIDDEN. The entry names only
// what the request names that is not personal: the audience id, the
// profile id asked for when it has a profile id's shape. A request that
// would not have been the action (another method, another path) appends
// none, as the handler would answer it 405 or 404 without reading.

// refusalAudit returns the auth.Refused that appends the entry describe
// makes of a refused request, when it makes one, to audit before the 403
// is sent. A failure to append is logged (ids and codes only) and the
// request is refused all the same. A nil audit appends nothing.
func refusalAudit(audit access.Store, log zerolog.Logger, describe func(r *http.Request, e *access.AuditEntry) bool) auth.Refused {
	if audit == nil {
		return nil
	}
	return func(r *http.Request, k access.Key, scope access.Scope) {
		ctx := r.Context()
		e := access.AuditEntry{
			ID: access.NewAuditID(), At: graph.Now(), KeyID: k.ID, KeyName: k.Name,
			Outcome: auth.CodeForbidden, Reason: access.ScopeRefusedReason(scope),
		}
		if len(e.KeyName) > access.MaxNameLen {
			e.KeyName = ""
		}
		if rid := reqid.From(ctx); len(rid) <= 200 {
			e.RequestID = rid
		}
		if !describe(r, &e) {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := audit.AppendAudit(actx, []access.AuditEntry{e}); err != nil {
			l := zerolog.Ctx(ctx)
			if l.GetLevel() == zerolog.Disabled {
				l = &log
			}
			l.Error().Err(err).Str("audit_id", e.ID).Str("action", e.Action).Str("outcome", e.Outcome).Msg("audit: refusal entry not written")
		}
	}
}

// pathID returns the id in path between prefix and suffix, when path has
// that shape and the id holds no slash.
func pathID(path, prefix, suffix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, suffix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// reads reports whether r's method is one an export answers.
func reads(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// PrivacyRefusals audits the data exports (PrivacyHandler) refused for
// want of privacy:read: action privacy.export, naming the profile id asked
// for when it has a profile id's shape (graph.ProfileIDShape; anything
// else, an email pasted for an id say, is not repeated).
func PrivacyRefusals(audit access.Store, log zerolog.Logger) auth.Refused {
	return refusalAudit(audit, log, func(r *http.Request, e *access.AuditEntry) bool {
		id, ok := pathID(r.URL.Path, "/v1/privacy/profiles/", "/export")
		if !ok || !reads(r) {
			return false
		}
		e.Action = privacy.ExportAction
		if graph.ProfileIDShape(id) {
			e.SetProfiles([]string{id})
		}
		return true
	})
}

// AudienceRefusals audits the audience exports (AudienceHandler) refused
// for want of audiences:read: action audience.export, the reason naming
// the audience id first when it has an audience id's shape.
func AudienceRefusals(audit access.Store, log zerolog.Logger) auth.Refused {
	return refusalAudit(audit, log, func(r *http.Request, e *access.AuditEntry) bool {
		id, ok := pathID(r.URL.Path, "/v1/audiences/", "/export")
		if !ok || !reads(r) {
			return false
		}
		e.Action = AudienceExportAction
		if audience.ValidAudienceID(id) {
			e.Reason = "audience " + id + "; " + e.Reason
		}
		return true
	})
}

// backupRefusals audits the backups (BackupHandler) refused for want of
// one of BackupScopes: action store.backup.
func backupRefusals(audit access.Store, log zerolog.Logger) auth.Refused {
	return refusalAudit(audit, log, func(r *http.Request, e *access.AuditEntry) bool {
		if r.Method != http.MethodPost || r.URL.Path != BackupPath {
			return false
		}
		e.Action = BackupAction
		return true
	})
}
