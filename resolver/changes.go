package resolver

import (
	"context"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/idgraph/cdp/graph"
)

// Mutations that change what audiences mean: every profile is evaluated
// again after them. A saved lookalike is never evaluated against a
// filter, but the pass writes the facts previews read (kept while any
// audience exists), replaces a member merged away since it was saved, and
// makes members no longer GRANTED for its purpose exit.
var audienceMutations = map[string]bool{
	"createAudience": true, "updateAudience": true, "defineComputedTrait": true, "deleteComputedTrait": true,
	"createLookalikeAudience": true,
}

// touched collects, across the runs of one mutation's transaction, the
// profiles its write changed (as access.ProfilesOf would list them).
type touched struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (t *touched) hook(_ context.Context, _ graph.Tx, w *graph.Write) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = map[string]bool{}
	}
	for _, p := range w.PutProfiles {
		t.ids[p.ID] = true
	}
	for _, c := range w.Changes {
		t.ids[c.From], t.ids[c.Into] = true, true
	}
	for _, id := range w.DeleteProfiles {
		t.ids[id] = true
	}
	return nil
}

type touchedKey struct{}

// noteTouched adds ids to the profiles the mutation running in ctx
// changed, beside those of its write: an erasure's hooks name the other
// people whose events or traits it scrubbed (audience.ForgetErasureInTx).
func noteTouched(ctx context.Context, ids []string) {
	t, _ := ctx.Value(touchedKey{}).(*touched)
	if t == nil || len(ids) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = map[string]bool{}
	}
	for _, id := range ids {
		t.ids[id] = true
	}
}

func (t *touched) list() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.ids))
	for id := range t.ids {
		if id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// trackChanges is a field middleware: after a mutation succeeds, it tells
// Config.OnProfilesChanged which profiles the mutation's transaction
// changed (corrections, erasures; setConsent's profile), and
// Config.OnAudiencesChanged when an audience or computed trait definition
// changed, so that kept audience membership follows within moments.
// Ingestion reports its own (ingest.Config.OnCommit).
func (r *Resolver) trackChanges(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "Mutation" || (r.cfg.OnProfilesChanged == nil && r.cfg.OnAudiencesChanged == nil) {
		return next(ctx)
	}
	t := &touched{}
	res, err := next(graph.WithBeforeCommit(context.WithValue(ctx, touchedKey{}, t), t.hook))
	if err != nil {
		return res, err
	}
	ids := t.list()
	if p, ok := res.(*graph.Profile); ok && p != nil && p.ID != "" && !slices.Contains(ids, p.ID) {
		ids = append(ids, p.ID)
	}
	if len(ids) > 0 && r.cfg.OnProfilesChanged != nil {
		r.cfg.OnProfilesChanged(ids)
	}
	if audienceMutations[fc.Field.Name] && r.cfg.OnAudiencesChanged != nil {
		r.cfg.OnAudiencesChanged()
	}
	return res, err
}
