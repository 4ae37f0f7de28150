package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
)

// Page sizes of apiKeys and auditLog.
const (
	defaultAccessPage = 50
	maxAccessPage     = 500
)

// Cursor kinds of apiKeys and auditLog.
const (
	cursorKindKeys  = "apiKeys"
	cursorKindAudit = "auditLog"
)

// errNoKeyStore answers the key and audit fields of a handler built
// without Config.Keys.
func errNoKeyStore() error {
	return graph.Errorf(graph.EUNAVAILABLE, "API keys and the audit log are not served by this server (no key store configured)")
}

func accessPage(first *int) (int, error) {
	if first == nil {
		return defaultAccessPage, nil
	}
	if *first < 0 || *first > maxAccessPage {
		return 0, invalidArg("first", "must be between 0 and %d, got %d", maxAccessPage, *first)
	}
	return *first, nil
}

func (r *Resolver) createKey(ctx context.Context, in gql.CreateAPIKeyInput) (*gql.CreatedAPIKey, error) {
	entry := newEntry(ctx, "createApiKey", "")
	fail := func(err error) (*gql.CreatedAPIKey, error) {
		r.auditFailure(ctx, entry, err)
		return nil, domainErr(err)
	}
	if r.keys == nil {
		return fail(errNoKeyStore())
	}
	now := graph.Now()
	var expires time.Time
	if in.ExpiresAt != nil {
		expires = graph.Clean(*in.ExpiresAt)
		if !expires.After(now) {
			return fail(invalidArg("input.expiresAt", "(%s) is not in the future", expires.Format(time.RFC3339)))
		}
	}
	source := ""
	if in.Source != nil {
		source = *in.Source
	}
	k, secret, err := access.NewKey(in.Name, in.Scopes, source, expires, now)
	if err != nil {
		return fail(keyArgErr(err))
	}
	// A key gives only scopes its creator holds: keys:admin alone must
	// not be a way to every other scope, pii:read included.
	if p := access.PrincipalFrom(ctx); !p.Open {
		for _, sc := range k.Scopes {
			if !p.Has(sc) {
				err := &gqlerror.Error{
					Message: fmt.Sprintf("argument %q: a key can only give scopes its creator holds, and the request's key does not hold %s",
						"input.scopes", sc),
					Path:       graphql.GetPath(ctx),
					Extensions: map[string]any{"code": CodeForbidden, "scope": string(sc)},
				}
				r.auditFailure(ctx, entry, err)
				return nil, err
			}
		}
	}
	// Nor does it outlive its creator: a key that expires could
	// otherwise mint one that never does and keep its access forever.
	if p := access.PrincipalFrom(ctx); p.Key != nil && !p.Key.ExpiresAt.IsZero() &&
		(k.ExpiresAt.IsZero() || k.ExpiresAt.After(p.Key.ExpiresAt)) {
		err := &gqlerror.Error{
			Message: fmt.Sprintf("argument %q: the request's key expires at %s, and a key can only create keys that expire no later than it does",
				"input.expiresAt", p.Key.ExpiresAt.Format(time.RFC3339)),
			Path:       graphql.GetPath(ctx),
			Extensions: map[string]any{"code": CodeForbidden},
		}
		r.auditFailure(ctx, entry, err)
		return nil, err
	}
	// The request's key is the new key's creator: revoking it revokes
	// this one too (the store refuses a creator revoked meanwhile).
	k.CreatedBy = access.PrincipalFrom(ctx).KeyID()
	// The entry says which key: its id, never its secret or hash.
	entry.Reason = "key " + k.ID
	if err := r.keys.CreateKey(ctx, k, entry); err != nil {
		return fail(err)
	}
	if r.cfg.OnCreate != nil {
		r.cfg.OnCreate()
	}
	return &gql.CreatedAPIKey{Key: &k, Secret: secret}, nil
}

func (r *Resolver) revokeKey(ctx context.Context, id string) (*access.Key, error) {
	entry := newEntry(ctx, "revokeApiKey", "")
	if r.keys == nil {
		err := errNoKeyStore()
		r.auditFailure(ctx, entry, err)
		return nil, err
	}
	// A malformed id is bad input, as updateAudience and
	// updateDestination answer it, not a key that is not stored.
	if !access.ValidKeyID(id) {
		err := invalidArg("id", "is not an API key id ("+access.KeyIDShape+")")
		r.auditFailure(ctx, entry, err)
		return nil, domainErr(err)
	}
	entry.Reason = "key " + id
	rctx := access.WithKeepAdmin(ctx)
	// Revoking a key needs every scope it holds, as creating it did:
	// keys:admin alone must not take away a bigger key.
	if p := access.PrincipalFrom(ctx); !p.Open {
		var held []access.Scope
		if p.Key != nil {
			held = p.Key.Scopes
		}
		rctx = access.WithHolds(rctx, held)
	}
	k, with, err := r.keys.RevokeKey(rctx, id, graph.Now(), entry)
	var notHeld *access.NotHeldError
	if errors.As(err, &notHeld) {
		err := &gqlerror.Error{
			Message: fmt.Sprintf("argument %q: revoking a key needs every scope it holds, and the request's key does not hold %s, which key %s holds",
				"id", notHeld.Scope, notHeld.KeyID),
			Path:       graphql.GetPath(ctx),
			Extensions: map[string]any{"code": CodeForbidden, "scope": string(notHeld.Scope)},
		}
		r.auditFailure(ctx, entry, err)
		return nil, err
	}
	if err != nil {
		r.auditFailure(ctx, entry, err)
		if graph.ErrorCode(err) == graph.ENOTFOUND {
			return nil, graph.Errorf(graph.ENOTFOUND, "argument \"id\" names no stored key")
		}
		return nil, domainErr(err)
	}
	if r.cfg.OnRevoke != nil {
		r.cfg.OnRevoke(k.ID)
		for _, id := range with {
			r.cfg.OnRevoke(id)
		}
	}
	return &k, nil
}

func (r *Resolver) apiKeys(ctx context.Context, first *int, after *string) (*gql.APIKeyConnection, error) {
	if r.keys == nil {
		return nil, errNoKeyStore()
	}
	n, err := accessPage(first)
	if err != nil {
		return nil, err
	}
	from := ""
	if after != nil {
		c, err := decodeCursor("after", cursorKindKeys, *after)
		if err != nil {
			return nil, err
		}
		from = c.ID
	}
	ks, err := r.keys.Keys(ctx, n+1, from)
	if err != nil {
		return nil, domainErr(err)
	}
	more := len(ks) > n
	ks = ks[:min(len(ks), n)]
	conn := &gql.APIKeyConnection{
		Edges:    make([]*gql.APIKeyEdge, len(ks)),
		Nodes:    make([]*access.Key, len(ks)),
		PageInfo: &gql.PageInfo{HasNextPage: more, HasPreviousPage: after != nil},
	}
	for i := range ks {
		k := &ks[i]
		k.Hash = "" // never leaves the store's side
		conn.Nodes[i] = k
		conn.Edges[i] = &gql.APIKeyEdge{Cursor: encodeCursor(cursorBody{V: cursorVersion, K: cursorKindKeys, ID: k.ID}), Node: k}
	}
	if len(ks) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(ks)-1].Cursor
	}
	return conn, nil
}

func auditCursor(e access.AuditEntry) string {
	return encodeCursor(cursorBody{V: cursorVersion, K: cursorKindAudit, ID: e.ID, T: graph.Clean(e.At).Format(time.RFC3339Nano)})
}

func (r *Resolver) auditLog(ctx context.Context, first *int, after *string, f *gql.AuditFilter) (*gql.AuditEntryConnection, error) {
	if r.keys == nil {
		return nil, errNoKeyStore()
	}
	n, err := accessPage(first)
	if err != nil {
		return nil, err
	}
	q := access.AuditQuery{Limit: n + 1}
	if f != nil {
		// An id of another shape (a key's name, an email pasted) matches
		// no entry: refused, rather than an empty log that reads as
		// "nothing was done". The value is not repeated.
		if f.KeyID != nil {
			if !access.ValidKeyID(*f.KeyID) {
				return nil, invalidArg("filter.keyId", "is not an API key id ("+access.KeyIDShape+"; apiKeys lists them)")
			}
			q.KeyID = *f.KeyID
		}
		if f.ProfileID != nil {
			if err := profileIDArg("filter.profileId", *f.ProfileID); err != nil {
				return nil, err
			}
			q.ProfileID = *f.ProfileID
		}
		if f.Action != nil {
			q.Action = *f.Action
		}
		// Rounded up to the stored microseconds, not truncated: an entry
		// before a bound finer than a microsecond stays before it.
		if f.From != nil {
			q.From = graph.CleanUp(*f.From)
		}
		if f.To != nil {
			q.To = graph.CleanUp(*f.To)
		}
		// A from at the earliest instant is a zero From, which the stores
		// read as no bound, but it is a bound here: a to before it (in
		// year 0) is refused too.
		if f.From != nil && f.To != nil && q.To.Before(q.From) {
			return nil, invalidArg("filter.to", "(%s) is before \"filter.from\" (%s)", q.To.Format(time.RFC3339Nano), q.From.Format(time.RFC3339Nano))
		}
	}
	if f != nil && f.To != nil && q.To.IsZero() {
		// The earliest instant (0001-01-01T00:00:00Z): no entry is before
		// it, while a zero To would read as no bound, as journey's does.
		if after != nil {
			if _, err := decodeCursor("after", cursorKindAudit, *after); err != nil {
				return nil, err
			}
		}
		return &gql.AuditEntryConnection{Edges: []*gql.AuditEntryEdge{}, Nodes: []*access.AuditEntry{}, PageInfo: &gql.PageInfo{HasPreviousPage: after != nil}}, nil
	}
	if after != nil {
		c, err := decodeCursor("after", cursorKindAudit, *after)
		if err != nil {
			return nil, err
		}
		t, err := time.Parse(time.RFC3339Nano, c.T)
		if err != nil {
			return nil, graph.Errorf(graph.EINVALID, "argument %q is not a valid %s cursor: bad time", "after", cursorKindAudit)
		}
		q.After = access.AuditCursor{At: graph.Clean(t), ID: c.ID}
	}
	es, err := r.keys.Audit(ctx, q)
	if err != nil {
		return nil, domainErr(err)
	}
	more := len(es) > n
	es = es[:min(len(es), n)]
	conn := &gql.AuditEntryConnection{
		Edges:    make([]*gql.AuditEntryEdge, len(es)),
		Nodes:    make([]*access.AuditEntry, len(es)),
		PageInfo: &gql.PageInfo{HasNextPage: more, HasPreviousPage: after != nil},
	}
	for i := range es {
		e := &es[i]
		if e.ProfileIDs == nil {
			e.ProfileIDs = []string{}
		}
		conn.Nodes[i] = e
		conn.Edges[i] = &gql.AuditEntryEdge{Cursor: auditCursor(*e), Node: e}
	}
	if len(es) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(es)-1].Cursor
	}
	return conn, nil
}

// priceAccess prices the lists of keys, of audit entries and of erasure
// receipts as every page is priced: by first (default 50, at most
// maxAccessPage). An audit filter the store walks an index for (a key's
// entries, a profile's) costs nothing more; an action, or a key and a
// profile together, is matched entry by entry on the walk, which may
// cover the whole log (or the profile's entries) before it finds a page:
// that adds a scan.
func priceAccess(c *gql.ComplexityRoot) {
	page := func(child int, first *int) int {
		return satAdd(1, satMul(pageCost(first, defaultAccessPage, maxAccessPage), child))
	}
	c.Query.APIKeys = func(child int, first *int, _ *string) int { return page(child, first) }
	c.Query.ErasureReceipts = func(child int, first *int, _ *string) int { return page(child, first) }
	c.Query.AuditLog = func(child int, first *int, _ *string, f *gql.AuditFilter) int {
		cost := page(child, first)
		if f != nil && (f.Action != nil || (f.KeyID != nil && f.ProfileID != nil)) {
			cost = satAdd(cost, scanCost)
		}
		return cost
	}
}

// keyArgErr names the argument of createApiKey that access.NewKey refused.
func keyArgErr(err error) error {
	msg := graph.ErrorMessage(err)
	arg := "input"
	switch {
	case strings.HasPrefix(msg, "key name"):
		arg = "input.name"
	case strings.HasPrefix(msg, "key source"):
		arg = "input.source"
	case strings.Contains(msg, "scope"):
		arg = "input.scopes"
	}
	return graph.Errorf(graph.ErrorCode(err), "argument %q: %s", arg, msg)
}
