package graph

import "context"

// BeforeCommit is run by a correction (MergeProfiles, UnlinkIdentifiers,
// RemoveIdentifier) inside its write transaction, after its write w is
// applied and before the commit: what the hook writes through tx commits
// with the correction, and an error from it rolls the correction back and
// is what the correction returns. It lets a capability that graph does not
// know (the audit log of package access) record a mutation atomically with
// its effect. A store may run the transaction's function more than once,
// so the hook must not keep state from one run to the next. w lists the
// profiles the correction changed (PutProfiles, Changes, DeleteProfiles);
// the hook must not modify it.
type BeforeCommit func(ctx context.Context, tx Tx, w *Write) error

type beforeCommitKey struct{}

// WithBeforeCommit returns ctx carrying fn, for the corrections called
// with it. When ctx already carries a hook, both run, that one first; the
// first error stops the chain and rolls the correction back.
func WithBeforeCommit(ctx context.Context, fn BeforeCommit) context.Context {
	if prev, ok := ctx.Value(beforeCommitKey{}).(BeforeCommit); ok && prev != nil && fn != nil {
		next := fn
		fn = func(ctx context.Context, tx Tx, w *Write) error {
			if err := prev(ctx, tx, w); err != nil {
				return err
			}
			return next(ctx, tx, w)
		}
	}
	return context.WithValue(ctx, beforeCommitKey{}, fn)
}

// applyAndHook applies w in tx, then runs the hook ctx carries, if any.
func applyAndHook(ctx context.Context, tx Tx, w *Write) error {
	if err := tx.Apply(ctx, w); err != nil {
		return err
	}
	if err := AppendFeed(ctx, tx, feedOfChanges(w)); err != nil {
		return err
	}
	if fn, ok := ctx.Value(beforeCommitKey{}).(BeforeCommit); ok && fn != nil {
		return fn(ctx, tx, w)
	}
	return nil
}

// EventsHook is run by the transaction that stores the events of one
// ingestion call (Engine.ApplyBatch, or one Submit call in the collector's
// group commit, where several calls share a transaction), after the write
// and before the commit, with the results of that call's events in order:
// its own results only, never another call's. Like BeforeCommit it lets a
// capability record the call atomically with its effect (the audit entry
// of the GraphQL ingest mutation); an error rolls the whole transaction
// back. ApplyBatch returns that error; the collector returns it to the
// call whose hook failed and commits the other calls again without it. The
// hook runs even when none of the call's events is stored (all rejected or
// duplicates). It may run more than once and must not keep state from one
// run to the next.
type EventsHook func(ctx context.Context, tx Tx, results []EventResult) error

type eventsHookKey struct{}

// WithEventsHook returns ctx carrying fn, for the ingestion call made with
// it.
func WithEventsHook(ctx context.Context, fn EventsHook) context.Context {
	return context.WithValue(ctx, eventsHookKey{}, fn)
}

// EventsHookFrom returns the hook ctx carries, or nil.
func EventsHookFrom(ctx context.Context) EventsHook {
	fn, _ := ctx.Value(eventsHookKey{}).(EventsHook)
	return fn
}
