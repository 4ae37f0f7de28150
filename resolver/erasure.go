package resolver

import (
	"context"
	"sync"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Cursor kind of erasureReceipts.
const cursorKindReceipts = "erasureReceipts"

// erasures are the mutations whose reason is withheld from the audit log
// when they do not complete.
var erasures = map[string]bool{"forgetProfile": true, "forgetIdentifier": true}

// withheldReason replaces the reason of a failed erasure in the audit log:
// it may name the person, and nothing was erased to scrub it against.
const withheldReason = "(withheld: the erasure did not complete)"

// eraserState opens the eraser on first use when Config.Eraser is nil and
// the engine's store holds a suppression list.
type eraserState struct {
	mu     sync.Mutex
	eraser *privacy.Eraser
}

// eraser returns the eraser of forgetProfile, forgetIdentifier and
// unsuppress.
//
// Errors: EUNAVAILABLE when the store holds no suppression list or its
// secret cannot be read.
func (r *Resolver) eraser(ctx context.Context) (*privacy.Eraser, error) {
	if r.cfg.Eraser != nil {
		return r.cfg.Eraser, nil
	}
	r.erasers.mu.Lock()
	defer r.erasers.mu.Unlock()
	if r.erasers.eraser != nil {
		return r.erasers.eraser, nil
	}
	ss, ok := r.engine.Store().(privacy.SuppressionStore)
	if !ok {
		return nil, graph.Errorf(graph.EUNAVAILABLE, "erasure is not served by this server (its store keeps no suppression list)")
	}
	list, err := privacy.OpenSuppressionList(ctx, ss)
	if err != nil {
		return nil, graph.ErrUnavailable(err)
	}
	r.erasers.eraser = privacy.NewEraser(r.engine, list)
	return r.erasers.eraser, nil
}

// requester names the caller's key for a receipt.
func requester(ctx context.Context) privacy.Requester {
	p := access.PrincipalFrom(ctx)
	return privacy.Requester{KeyID: p.KeyID(), KeyName: clip(p.KeyName(), access.MaxNameLen)}
}

// erasureAudit returns the hook that appends entry in the erasure's
// transaction, naming the receipt, its reason scrubbed of the erased
// values, and no profile id: the erased person's profile ids derive from
// their identifiers. ProfileCount still counts the profiles touched.
func erasureAudit(entry access.AuditEntry) privacy.ReceiptHook {
	return func(ctx context.Context, tx graph.Tx, w *graph.Write, x *graph.Erasure, r privacy.ErasureReceipt) error {
		e := entry
		e.Reason = clip(r.ID+": "+x.ScrubText(entry.Reason), access.MaxReasonLen)
		e.SetProfiles(access.ProfilesOf(w))
		e.ProfileIDs = nil
		return access.AppendInTx(ctx, tx, []access.AuditEntry{e})
	}
}

// forgetAudiences returns the hook that deletes, in the erasure's
// transaction, the erased profiles' memberships, change rows and computed
// values and the computed values of the profiles it changed
// (audience.ForgetErasureInTx), then runs hook.
func forgetAudiences(hook privacy.ReceiptHook) privacy.ReceiptHook {
	return func(ctx context.Context, tx graph.Tx, w *graph.Write, x *graph.Erasure, r privacy.ErasureReceipt) error {
		_, others, err := audience.ForgetErasureInTx(ctx, tx, w, x)
		if err != nil {
			return err
		}
		noteTouched(ctx, others)
		// Webhook batches not yet delivered forget the deleted profiles
		// with the feed (graph.RedactFeed, in the engine's erasure).
		return hook(ctx, tx, w, x, r)
	}
}

// correctionAudit returns the hook that appends a correction's entry in
// its transaction, with its reason scrubbed of the erased values, naming
// the profiles that remain, after deleting their computed values (they
// may hold the removed identifier's values) and the audience data of a
// profile the correction emptied (audience.ForgetErasureInTx).
func correctionAudit(entry access.AuditEntry) graph.EraseHook {
	return func(ctx context.Context, tx graph.Tx, w *graph.Write, x *graph.Erasure) error {
		e := entry
		e.Reason = clip(x.ScrubText(entry.Reason), access.MaxReasonLen)
		_, others, err := audience.ForgetErasureInTx(ctx, tx, w, x)
		if err != nil {
			return err
		}
		noteTouched(ctx, others)
		return access.AuditHook(e)(ctx, tx, w)
	}
}

// failErasure audits a failed erasure without its reason.
func (r *Resolver) failErasure(ctx context.Context, entry access.AuditEntry, err error) {
	entry.Reason = withheldReason
	r.auditFailure(ctx, entry, err)
}

func (r *Resolver) forgetProfile(ctx context.Context, id, reason string) (*privacy.ErasureReceipt, error) {
	resetLoaders(ctx)
	defer r.queries.purge() // the mutation's own text holds what it erases
	entry := newEntry(ctx, "forgetProfile", reason)
	if err := r.refuseReason(ctx, entry, reason); err != nil {
		return nil, err
	}
	if err := profileIDArg("id", id); err != nil {
		r.failErasure(ctx, entry, err)
		return nil, err
	}
	x, err := r.eraser(ctx)
	if err != nil {
		r.failErasure(ctx, entry, err)
		return nil, err
	}
	rc, err := x.ForgetProfile(ctx, id, reason, requester(ctx), forgetAudiences(erasureAudit(entry)))
	if err != nil && rc.ID == "" {
		r.failErasure(ctx, entry, err)
		return nil, domainErr(err)
	}
	return &rc, domainErr(err)
}

func (r *Resolver) forgetIdentifier(ctx context.Context, in gql.IdentifierInput, reason string) (*privacy.ErasureReceipt, error) {
	resetLoaders(ctx)
	defer r.queries.purge() // the mutation's own text holds what it erases
	entry := newEntry(ctx, "forgetIdentifier", reason)
	if err := r.refuseReason(ctx, entry, reason); err != nil {
		return nil, err
	}
	n, err := r.normalizeInput("identifier.type", "identifier.value", in.Type, in.Value)
	if err != nil {
		r.failErasure(ctx, entry, err)
		return nil, err
	}
	x, err := r.eraser(ctx)
	if err != nil {
		r.failErasure(ctx, entry, err)
		return nil, err
	}
	raw := graph.IdentifierRef{Type: in.Type, Value: in.Value}
	rc, _, err := x.ForgetIdentifier(ctx, raw, reason, requester(ctx), forgetAudiences(erasureAudit(entry)))
	if err != nil && rc.ID == "" {
		r.failErasure(ctx, entry, err)
		return nil, identErr(err, identArg{name: "identifier", raw: raw, norm: n})
	}
	return &rc, domainErr(err)
}

func (r *Resolver) unsuppress(ctx context.Context, in gql.IdentifierInput, reason string) (*bool, error) {
	entry := newEntry(ctx, "unsuppress", reason)
	fail := func(err error) (*bool, error) {
		r.auditFailure(ctx, entry, err)
		return nil, err
	}
	if err := r.refuseReason(ctx, entry, reason); err != nil {
		return nil, err
	}
	if _, err := r.normalizeInput("identifier.type", "identifier.value", in.Type, in.Value); err != nil {
		return fail(err)
	}
	x, err := r.eraser(ctx)
	if err != nil {
		return fail(err)
	}
	// The entry commits with the suppression's removal when the store
	// keeps the audit log too, so that neither exists without the other.
	var inTx func(ctx context.Context, tx graph.Tx) error
	if sameStore(r.auditStore, r.engine.Store()) {
		inTx = func(ctx context.Context, tx graph.Tx) error {
			return access.AppendInTx(ctx, tx, []access.AuditEntry{entry})
		}
	}
	was, err := x.Unsuppress(ctx, graph.IdentifierRef{Type: in.Type, Value: in.Value}, reason, inTx)
	if err != nil {
		return fail(domainErr(err))
	}
	if inTx == nil {
		r.appendAlone(ctx, entry)
	}
	return &was, nil
}

// refusedReason stands in the audit log for a reason that was refused.
const refusedReason = "(withheld: the reason was refused)"

// refuseReason checks the reason of a correction or an erasure
// (graph.ReasonProblem) before anything runs. A refused reason is answered
// INVALID_ARGUMENT naming the argument, and the refusal is audited without
// it (nothing the caller typed is written); it returns nil when the reason
// is good.
func (r *Resolver) refuseReason(ctx context.Context, entry access.AuditEntry, reason string) error {
	p := graph.ReasonProblem(reason)
	if p == "" {
		return nil
	}
	err := invalidArg("reason", "%s", p)
	entry.Reason = refusedReason
	r.auditFailure(ctx, entry, err)
	return err
}

func receiptCursor(rc privacy.ErasureReceipt) string {
	return encodeCursor(cursorBody{V: cursorVersion, K: cursorKindReceipts, ID: rc.ID, T: rc.At.Format(time.RFC3339Nano)})
}

func (r *Resolver) receiptStore() (privacy.ReceiptStore, error) {
	if r.cfg.Receipts != nil {
		return r.cfg.Receipts, nil
	}
	if s, ok := r.engine.Store().(privacy.ReceiptStore); ok {
		return s, nil
	}
	return nil, graph.Errorf(graph.EUNAVAILABLE, "erasure receipts are not served by this server (its store keeps none)")
}

func (r *Resolver) erasureReceipts(ctx context.Context, first *int, after *string) (*gql.ErasureReceiptConnection, error) {
	st, err := r.receiptStore()
	if err != nil {
		return nil, err
	}
	n, err := accessPage(first)
	if err != nil {
		return nil, err
	}
	q := privacy.ReceiptQuery{Limit: n + 1}
	if after != nil {
		c, err := decodeCursor("after", cursorKindReceipts, *after)
		if err != nil {
			return nil, err
		}
		t, err := time.Parse(time.RFC3339Nano, c.T)
		if err != nil {
			return nil, graph.Errorf(graph.EINVALID, "argument %q is not a valid %s cursor: bad time", "after", cursorKindReceipts)
		}
		q.After = &privacy.ReceiptCursor{At: graph.Clean(t), ID: c.ID}
	}
	rs, err := st.Receipts(ctx, q)
	if err != nil {
		return nil, domainErr(err)
	}
	more := len(rs) > n
	rs = rs[:min(len(rs), n)]
	conn := &gql.ErasureReceiptConnection{
		Edges:    make([]*gql.ErasureReceiptEdge, len(rs)),
		Nodes:    make([]*privacy.ErasureReceipt, len(rs)),
		PageInfo: &gql.PageInfo{HasNextPage: more, HasPreviousPage: after != nil},
	}
	for i := range rs {
		rc := &rs[i]
		conn.Nodes[i] = rc
		conn.Edges[i] = &gql.ErasureReceiptEdge{Cursor: receiptCursor(*rc), Node: rc}
	}
	if len(rs) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(rs)-1].Cursor
	}
	return conn, nil
}
