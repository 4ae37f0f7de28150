package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/neo4jstore"
)

// mergeEvents builds the adversarial graphs: a chain of n links (x0-x1,
// x1-x2, ...) or a star of n links (hub-x1, hub-x2, ...), one event per
// link, in an order shuffled with seed. A shuffled chain keeps merging
// components of every size into each other, which is where union by size
// earns its keep; a star grows one profile by one identifier at a time.
func mergeEvents(shape string, n int, seed uint64) []graph.Event {
	node := func(i int) graph.IdentifierRef {
		return graph.IdentifierRef{Type: MergeType, Value: fmt.Sprintf("%s%d-%07d", shape, n, i)}
	}
	at := genStart
	evs := make([]graph.Event, n)
	for i := 0; i < n; i++ {
		a, b := node(i), node(i+1)
		if shape == "star" {
			a = graph.IdentifierRef{Type: MergeType, Value: fmt.Sprintf("star%d-hub", n)}
		}
		evs[i] = graph.Event{ID: fmt.Sprintf("%s-%d-%d", shape, n, i), Type: "track", Name: "Linked", Source: "bench",
			Timestamp: at.Add(time.Duration(i) * time.Second), Identifiers: []graph.IdentifierRef{a, b}}
	}
	rng := newRand(seed + 2)
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	return evs
}

// mergeRun resolves one graph through the engine, in batches of the
// collector's size, on an empty store, and returns the time ApplyBatch
// took. It checks that one profile holds all n+1 identifiers.
func mergeRun(ctx context.Context, cfg Config, dir, shape string, n int) (time.Duration, error) {
	var store graph.Store
	var err error
	if cfg.Store == StoreEmbedded {
		store, err = embedded.Open(dir)
		defer os.RemoveAll(dir)
	} else {
		store, err = neo4jstore.Open(ctx, cfg.Neo4j)
		if err == nil {
			err = emptyNeo4j(ctx, store)
		}
	}
	if err != nil {
		return 0, err
	}
	defer func() { _ = store.Close(context.WithoutCancel(ctx)) }()
	rules, err := MergeRules()
	if err != nil {
		return 0, err
	}
	engine := graph.NewEngine(store, rules)
	evs := mergeEvents(shape, n, cfg.Gen.Seed)
	start := time.Now()
	for i := 0; i < len(evs); i += cfg.ServerBatch {
		batch := evs[i:min(i+cfg.ServerBatch, len(evs))]
		res, err := engine.ApplyBatch(ctx, batch)
		if err != nil {
			return 0, err
		}
		if res.Stored != len(batch) {
			return 0, fmt.Errorf("batch at %d: %d of %d events stored", i, res.Stored, len(batch))
		}
	}
	elapsed := time.Since(start)
	p, err := engine.ProfileByIdentifier(ctx, evs[0].Identifiers[0])
	if err != nil {
		return 0, err
	}
	members, err := engine.Members(ctx, []string{p.ID})
	if err != nil {
		return 0, err
	}
	if p.Size != n+1 || len(members[p.ID]) != n+1 {
		return 0, fmt.Errorf("the %s resolved into a profile of size %d holding %d identifiers, want %d", shape, p.Size, len(members[p.ID]), n+1)
	}
	if cfg.Store == StoreNeo4j {
		if err := emptyNeo4j(ctx, store); err != nil {
			return 0, err
		}
	}
	return elapsed, nil
}
