package resolver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/reqid"
)

// The audit log, as the resolvers write it.
//
// Every mutation appends exactly one entry. When it succeeds, the entry is
// written in the transaction of its effect: corrections through
// graph.WithBeforeCommit (access.AuditHook), ingest through
// graph.WithEventsHook, key mutations through the audit parameter of
// CreateKey and RevokeKey. When it fails, nothing of it is stored and an
// entry with the error code as outcome is appended on its own
// (Store.AppendAudit).
//
// A query that returns personal values unmasked (the principal holds
// pii:read) appends one entry per root field that returned some, naming the
// profiles whose data it returned: through Config.Audit when set (batched,
// off the request path), else synchronously before the response, which is
// withheld when the entry cannot be written.

// newEntry starts the audit entry of an action of the request.
func newEntry(ctx context.Context, action, reason string) access.AuditEntry {
	p := access.PrincipalFrom(ctx)
	e := access.AuditEntry{
		ID:        access.NewAuditID(),
		At:        graph.Now(),
		KeyID:     p.KeyID(),
		KeyName:   clip(p.KeyName(), access.MaxNameLen),
		Action:    action,
		RequestID: clip(reqid.From(ctx), 200),
		Reason:    clip(reason, access.MaxReasonLen),
		Outcome:   access.OutcomeOK,
	}
	if graphql.HasOperationContext(ctx) {
		if oc := graphql.GetOperationContext(ctx); oc != nil {
			name := oc.OperationName
			if name == "" && oc.Operation != nil {
				name = oc.Operation.Name // named in the document, not the request
			}
			if len(name) <= 200 {
				e.OperationName = name
			}
		}
	}
	return e
}

// clip shortens s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// outcomeOf is the outcome of an action that ended with err.
func outcomeOf(err error) string {
	if err == nil {
		return access.OutcomeOK
	}
	var ge *gqlerror.Error
	if errors.As(err, &ge) {
		if c, ok := ge.Extensions["code"].(string); ok && c != "" {
			return c
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "CANCELED"
	}
	return codeOf(graph.ErrorCode(err))
}

// auditFailure appends the entry of an action that failed with err, with
// the error's code as outcome. The action stored nothing, so the entry
// stands alone. A failure to append is logged (ids and codes only).
func (r *Resolver) auditFailure(ctx context.Context, e access.AuditEntry, err error) {
	e.Outcome = outcomeOf(err)
	r.appendAlone(ctx, e)
}

// auditedWrite prepares the audit of one audience store write: when that
// store keeps the audit log (it is the resolver's audit store), the
// returned ctx makes the write append entry in its own transaction
// (access.WithAuditInWrite) and after returns nothing to do; otherwise ctx
// is unchanged and after appends the entry alone. Call after only once
// the write succeeded (a failure goes to auditFailure).
func (r *Resolver) auditedWrite(ctx context.Context, st any, entry access.AuditEntry) (context.Context, func()) {
	if sameStore(r.auditStore, st) {
		return access.WithAuditInWrite(ctx, entry), func() {}
	}
	return ctx, func() { r.appendAlone(ctx, entry) }
}

// sameStore reports whether a and b are the same store: the same pointer.
func sameStore(a, b any) bool {
	if a == nil || b == nil {
		return false
	}
	ta := reflect.TypeOf(a)
	return ta.Kind() == reflect.Pointer && ta == reflect.TypeOf(b) && a == b
}

// appendAlone appends one entry outside any other transaction.
func (r *Resolver) appendAlone(ctx context.Context, e access.AuditEntry) {
	r.appendAll(ctx, []access.AuditEntry{e})
}

// refusalAudit is the extension that appends the audit entries of the
// root fields of a mutation operation refused for want of scope (hasScope)
// together, in one store write, once the operation has run and before its
// answer is sent: the refusals of one request cost one write, however many
// fields it refuses (at most MaxMutationFields).
type refusalAudit struct{ r *Resolver }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = refusalAudit{}

func (refusalAudit) ExtensionName() string                          { return "RefusalAudit" }
func (refusalAudit) Validate(schema graphql.ExecutableSchema) error { return nil }

type refusalLogKey struct{}

// refusalLog gathers the entries of one operation's refused mutations.
type refusalLog struct {
	mu      sync.Mutex
	entries []access.AuditEntry
}

func (l *refusalLog) add(e access.AuditEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
}

func (a refusalAudit) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return next(ctx)
	}
	l := &refusalLog{}
	h := next(context.WithValue(ctx, refusalLogKey{}, l))
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		l.mu.Lock()
		entries := l.entries
		l.entries = nil
		l.mu.Unlock()
		if len(entries) > 0 {
			a.r.appendAll(ctx, entries)
		}
		return resp
	}
}

// appendAll appends entries in one write, outside any other transaction;
// a failure is logged (ids and codes only).
func (r *Resolver) appendAll(ctx context.Context, entries []access.AuditEntry) {
	log := zerolog.Ctx(ctx)
	if log.GetLevel() == zerolog.Disabled {
		log = &r.cfg.Logger
	}
	if r.auditStore == nil {
		return // no audit log: neither Config.Keys nor the engine's store holds one
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditWriteTimeout)
	defer cancel()
	if err := r.auditStore.AppendAudit(ctx, entries); err != nil {
		for _, e := range entries {
			log.Error().Err(err).Str("audit_id", e.ID).Str("action", e.Action).Str("outcome", e.Outcome).Msg("audit: entry not written")
		}
	}
}

// auditWriteTimeout bounds one append of audit entries.
const auditWriteTimeout = 10 * time.Second

// readLog gathers, for one operation, the root fields that returned
// personal values unmasked and the profiles those values belong to.
type readLog struct {
	mu     sync.Mutex
	fields []string                   // root field names, in the order first noted
	pids   map[string][]string        // by root field
	seen   map[string]map[string]bool // pids, by root field
}

type readLogKey struct{}

func (l *readLog) add(field string, pids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.pids[field]; !ok {
		l.fields = append(l.fields, field)
		l.pids[field] = nil
	}
	l.pids[field] = append(l.pids[field], pids...)
	if l.seen == nil {
		l.seen = map[string]map[string]bool{}
	}
	if l.seen[field] == nil {
		l.seen[field] = map[string]bool{}
	}
	for _, id := range pids {
		l.seen[field][id] = true
	}
}

// has reports whether a read of field naming each of pids is noted.
func (l *readLog) has(field string, pids []string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range pids {
		if !l.seen[field][id] {
			return false
		}
	}
	return true
}

// readNoted reports whether noteRead would add nothing for the field
// being resolved: the request notes no reads, the field is a mutation's,
// or a read of its root field naming the profiles it belongs to is noted
// already. A field that belongs to no profile before its event is looked
// up is not known to be noted.
func (r *Resolver) readNoted(ctx context.Context) bool {
	l, _ := ctx.Value(readLogKey{}).(*readLog)
	if l == nil {
		return true
	}
	name := readField(ctx)
	if name == "" {
		return true
	}
	pids := ownerProfiles(ctx)
	return pids != nil && l.has(name, pids)
}

// noteRead records that the field being resolved returns a personal value
// unmasked. Mutations are left out: their own entry records them.
func (r *Resolver) noteRead(ctx context.Context) {
	l, _ := ctx.Value(readLogKey{}).(*readLog)
	if l == nil {
		return
	}
	name := readField(ctx)
	if name == "" {
		return
	}
	pids := ownerProfiles(ctx)
	if pids == nil {
		pids = r.eventProfiles(ctx)
	}
	l.add(name, pids)
}

// readField is the root field a read of the field being resolved is
// noted under: the query's or subscription's, "" for a mutation's.
func readField(ctx context.Context) string {
	var root *graphql.FieldContext
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Field.Field != nil && (fc.Object == "Query" || fc.Object == "Mutation" || fc.Object == "Subscription") {
			root = fc
		}
	}
	var name string
	switch {
	case root != nil && root.Object != "Mutation":
		name = root.Field.Name
	case root == nil:
		// A subscription's answers are built without its root field's
		// context: its one root field is the operation's.
		name = subscriptionField(ctx)
	}
	return name
}

// subscriptionField is the root field of ctx's operation when it is a
// subscription, else "".
func subscriptionField(ctx context.Context) string {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return ""
	}
	for _, sel := range oc.Operation.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			return f.Name
		}
	}
	return ""
}

// eventProfiles returns the profiles of the identifiers of the nearest
// enclosing event, for an event read by id.
func (r *Resolver) eventProfiles(ctx context.Context) []string {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		var ev *graph.Event
		switch o := fc.Result.(type) {
		case *graph.Event:
			ev = o
		case **graph.Event:
			if o != nil {
				ev = *o
			}
		}
		if ev == nil {
			continue
		}
		var pids []string
		s := r.loaders(ctx)
		s.identSibs.hint(ev.Keys)
		for _, k := range ev.Keys {
			if id, ok, err := s.idents.load(ctx, k); err == nil && ok && id.ProfileID != "" {
				pids = append(pids, id.ProfileID)
			}
		}
		return pids
	}
	return nil
}

// readAudit is the extension that writes the entries of a query's
// unmasked personal reads once its answer is built, and those of each
// answer of a subscription.
type readAudit struct{ r *Resolver }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = readAudit{}

func (readAudit) ExtensionName() string                          { return "ReadAudit" }
func (readAudit) Validate(schema graphql.ExecutableSchema) error { return nil }

func (a readAudit) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || (oc.Operation.Operation != ast.Query && oc.Operation.Operation != ast.Subscription) {
		return next(ctx)
	}
	l := &readLog{pids: map[string][]string{}}
	h := next(context.WithValue(ctx, readLogKey{}, l))
	return func(ctx context.Context) *graphql.Response {
		// A subscription's answers are built in this context, not the
		// operation's.
		resp := h(context.WithValue(ctx, readLogKey{}, l))
		if resp == nil || len(resp.Data) == 0 || string(resp.Data) == "null" {
			return resp
		}
		l.mu.Lock()
		entries := make([]access.AuditEntry, 0, len(l.fields))
		for _, f := range l.fields {
			e := newEntry(ctx, f, "")
			e.SetProfiles(l.pids[f])
			entries = append(entries, e)
		}
		// A subscription answers once per change: each answer's reads
		// are recorded with it, once.
		l.fields, l.pids = nil, map[string][]string{}
		l.mu.Unlock()
		if len(entries) == 0 {
			return resp
		}
		if a.r.cfg.Audit != nil {
			for _, e := range entries {
				a.r.cfg.Audit.Record(e)
			}
			return resp
		}
		if a.r.auditStore == nil {
			return resp // no audit log to write to
		}
		if err := a.r.appendReads(ctx, entries); err != nil {
			zerolog.Ctx(ctx).Error().Err(err).Int("entries", len(entries)).Msg("audit: personal read not recorded; answer withheld")
			e := gqlerror.Errorf("the answer holds personal data and its audit entry could not be written; retry later")
			setCode(e, CodeUnavailable)
			return &graphql.Response{Errors: gqlerror.List{e}}
		}
		return resp
	}
}

func (r *Resolver) appendReads(ctx context.Context, entries []access.AuditEntry) error {
	if r.auditStore == nil {
		return errors.New("no store can hold the audit log")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditWriteTimeout)
	defer cancel()
	return r.auditStore.AppendAudit(ctx, entries)
}

// AuditWriter appends audit entries off the request path: it gathers what
// Record is given and appends it in batches of at most auditBatchSize, at
// least every auditFlushEvery. A batch a failing store does not take after
// a few quick retries waits in the queue for the next flush, so an outage
// loses nothing while fewer than auditMaxPending entries wait; what passes
// that bound, or is still unwritten when Close gives up, is logged as lost
// (entry ids and actions, never personal values).
type AuditWriter struct {
	store access.Store
	log   zerolog.Logger

	mu      sync.Mutex
	pending []access.AuditEntry
	closed  bool
	dropped int
	// loggedDown is set once a failing store was logged, until a write
	// succeeds: one warning per outage, not one per flush.
	loggedDown atomic.Bool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// Tuning of AuditWriter.
const (
	auditBatchSize  = 500
	auditFlushEvery = time.Second
	auditRetries    = 4
	auditRetryWait  = 100 * time.Millisecond
	// auditMaxPending bounds what waits while the store is down.
	auditMaxPending = 100_000
)

// NewAuditWriter returns a writer appending to store; Close flushes it.
func NewAuditWriter(store access.Store, log zerolog.Logger) *AuditWriter {
	w := &AuditWriter{
		store: store, log: log,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go w.run()
	return w
}

// Record queues e for appending. After Close it appends e at once.
func (w *AuditWriter) Record(e access.AuditEntry) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		_ = w.write([]access.AuditEntry{e}, true) // a failure is logged
		return
	}
	if len(w.pending) >= auditMaxPending {
		w.dropped++
		w.mu.Unlock()
		return
	}
	w.pending = append(w.pending, e)
	full := len(w.pending) >= auditBatchSize
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// Close appends what is pending and stops the writer. It returns ctx's
// error when ctx ends first; the writer then finishes in the background.
func (w *AuditWriter) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.stop)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *AuditWriter) run() {
	defer close(w.done)
	t := time.NewTicker(auditFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.kick:
		case <-w.stop:
			w.flush(false)
			return
		}
		w.flush(true)
	}
}

// flush appends everything pending, a batch at a time. With requeue, a
// batch the store does not take after the retries goes back to the front
// of the queue for the next flush, so that an outage longer than the
// retries loses nothing while under auditMaxPending entries wait; without
// it (the last flush, on Close), the loss is logged.
func (w *AuditWriter) flush(requeue bool) {
	for {
		w.mu.Lock()
		if dropped := w.dropped; dropped > 0 {
			w.dropped = 0
			w.log.Error().Int("entries", dropped).Msg("audit: entries dropped, too many waiting for the store")
		}
		n := min(len(w.pending), auditBatchSize)
		if n == 0 {
			w.mu.Unlock()
			return
		}
		batch := slices.Clone(w.pending[:n])
		w.pending = slices.Delete(w.pending, 0, n)
		w.mu.Unlock()
		err := w.write(batch, !requeue)
		if err == nil || !requeue || graph.ErrorCode(err) == graph.EINVALID {
			continue
		}
		w.mu.Lock()
		// Back in front, in order; what would pass auditMaxPending is
		// dropped from the newest end, as Record drops it.
		room := auditMaxPending - len(batch)
		if len(w.pending) > room {
			w.dropped += len(w.pending) - max(room, 0)
			w.pending = w.pending[:max(room, 0)]
		}
		w.pending = append(batch, w.pending...)
		w.mu.Unlock()
		if !w.loggedDown.Swap(true) {
			w.log.Warn().Err(err).Int("entries", len(batch)).Msg("audit: the store does not take entries; they wait and are retried")
		}
		return
	}
}

// write appends batch, retrying a failing store; with logLoss, a batch
// still not written is logged as lost.
func (w *AuditWriter) write(batch []access.AuditEntry, logLoss bool) error {
	var err error
	for attempt := 0; attempt < auditRetries; attempt++ {
		if attempt > 0 {
			time.Sleep(auditRetryWait << (attempt - 1))
		}
		ctx, cancel := context.WithTimeout(context.Background(), auditWriteTimeout)
		err = w.store.AppendAudit(ctx, batch)
		if graph.ErrorCode(err) == graph.ECONFLICT && attempt > 0 {
			// An earlier attempt may have committed without saying so:
			// append one by one, and an id already stored is done.
			err = nil
			for _, e := range batch {
				if e1 := w.store.AppendAudit(ctx, []access.AuditEntry{e}); e1 != nil && graph.ErrorCode(e1) != graph.ECONFLICT {
					err = e1
				}
			}
		}
		cancel()
		if err == nil {
			w.loggedDown.Store(false)
			return nil
		}
		if graph.ErrorCode(err) == graph.EINVALID {
			break // no retry mends an invalid entry
		}
	}
	if !logLoss && graph.ErrorCode(err) != graph.EINVALID {
		return err
	}
	ids := make([]string, len(batch))
	actions := map[string]int{}
	for i, e := range batch {
		ids[i] = e.ID
		actions[e.Action]++
	}
	w.log.Error().Err(err).Int("entries", len(batch)).Strs("ids", ids).Str("actions", fmt.Sprint(actions)).Msg("audit: entries not written after retries")
	return err
}
