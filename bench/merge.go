package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
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

// mergeStats is one merge-scaling run.
type mergeStats struct {
	elapsed time.Duration
	// relabels counts IN edges rewritten (Write.Assign entries): the
	// engine's own work, free of the store's speed. Union by size keeps
	// it O(n log n).
	relabels int
}

// countingStore counts the identifiers each write assigns to a profile.
type countingStore struct {
	graph.Store
	assigns atomic.Int64
}

type countingTx struct {
	graph.Tx
	s *countingStore
}

// SerialWrites implements graph.SerialWriter as the store it counts does.
func (c *countingStore) SerialWrites() bool { return graph.SerialWrites(c.Store) }

// SuppressionKey implements graph.SecretKeeper with the store it counts.
func (c *countingStore) SuppressionKey(ctx context.Context) ([]byte, error) {
	k, ok := c.Store.(graph.SecretKeeper)
	if !ok {
		return nil, fmt.Errorf("the store %T keeps no secret", c.Store)
	}
	return k.SuppressionKey(ctx)
}

func (c *countingStore) Update(ctx context.Context, fn func(ctx context.Context, tx graph.Tx) error) error {
	return c.Store.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return fn(ctx, countingTx{tx, c}) })
}

func (t countingTx) Apply(ctx context.Context, w *graph.Write) error {
	if err := t.Tx.Apply(ctx, w); err != nil {
		return err
	}
	t.s.assigns.Add(int64(len(w.Assign)))
	return nil
}

// mergeRun resolves one graph through the engine, in batches of the
// collector's size, on an empty store, and returns the time ApplyBatch
// took. It checks that one profile holds all n+1 identifiers. The
// embedded store is a new file in dir; on Neo4j, shared (the store of the
// run) is emptied and used.
func mergeRun(ctx context.Context, cfg Config, shared graph.Store, dir, shape string, n int) (mergeStats, error) {
	store := shared
	if cfg.Store == StoreEmbedded {
		s, err := embedded.Open(dir)
		if err != nil {
			return mergeStats{}, err
		}
		defer os.RemoveAll(dir)
		defer func() { _ = s.Close(context.WithoutCancel(ctx)) }()
		store = s
	} else if err := emptyNeo4j(ctx, store); err != nil {
		return mergeStats{}, err
	}
	rules, err := MergeRules()
	if err != nil {
		return mergeStats{}, err
	}
	counted := &countingStore{Store: store}
	engine := graph.NewEngine(counted, rules)
	evs := mergeEvents(shape, n, cfg.Gen.Seed)
	start := time.Now()
	for i := 0; i < len(evs); i += cfg.ServerBatch {
		batch := evs[i:min(i+cfg.ServerBatch, len(evs))]
		res, err := engine.ApplyBatch(ctx, batch)
		if err != nil {
			return mergeStats{}, err
		}
		if res.Stored != len(batch) {
			return mergeStats{}, fmt.Errorf("batch at %d: %d of %d events stored", i, res.Stored, len(batch))
		}
	}
	elapsed := time.Since(start)
	p, err := engine.ProfileByIdentifier(ctx, evs[0].Identifiers[0])
	if err != nil {
		return mergeStats{}, err
	}
	members, err := engine.Members(ctx, []string{p.ID})
	if err != nil {
		return mergeStats{}, err
	}
	if p.Size != n+1 || len(members[p.ID]) != n+1 {
		return mergeStats{}, fmt.Errorf("the %s resolved into a profile of size %d holding %d identifiers, want %d", shape, p.Size, len(members[p.ID]), n+1)
	}
	if cfg.Store == StoreNeo4j {
		if err := emptyNeo4j(ctx, store); err != nil {
			return mergeStats{}, err
		}
	}
	return mergeStats{elapsed: elapsed, relabels: int(counted.assigns.Load())}, nil
}

// rawLinkRun is the control of a merge-scaling run: the same events and
// links written with no resolution, in batches of the same size, on an
// empty file or database. Where the store's cost per write grows with its
// size, this grows too, and the engine is not to blame for it.
func rawLinkRun(ctx context.Context, cfg Config, n4 *neo4jRaw, dir, shape string, n int) (time.Duration, error) {
	evs := mergeEvents(shape, n, cfg.Gen.Seed)
	batches := (len(evs) + cfg.ServerBatch - 1) / cfg.ServerBatch
	slice := func(i int) []graph.Event { return evs[i*cfg.ServerBatch : min((i+1)*cfg.ServerBatch, len(evs))] }
	if cfg.Store == StoreNeo4j {
		if err := n4.deleteAll(ctx); err != nil {
			return 0, err
		}
		params := make([]map[string]any, batches)
		for i := range params {
			var rows []any
			for _, e := range slice(i) {
				rows = append(rows, map[string]any{"id": e.ID, "a": e.Identifiers[0].Key(), "b": e.Identifiers[1].Key(), "ts": graph.Clean(e.Timestamp)})
			}
			params[i] = map[string]any{"rows": rows}
		}
		d, err := runWriters(ctx, batches, 1, func(i int) error { return n4.write(ctx, qRawLinks, params[i]) })
		if err == nil {
			err = n4.deleteAll(ctx)
		}
		return d, err
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, err
	}
	db, err := openRawBolt(filepath.Join(dir, "raw.db"), "events", "identifiers", "links", "link_adjacency")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return runWriters(ctx, batches, 1, func(i int) error {
		return db.Update(func(tx *bolt.Tx) error {
			evb, ids, links, adj := tx.Bucket([]byte("events")), tx.Bucket([]byte("identifiers")), tx.Bucket([]byte("links")), tx.Bucket([]byte("link_adjacency"))
			for _, e := range slice(i) {
				a, b := e.Identifiers[0].Key(), e.Identifiers[1].Key()
				if err := evb.Put([]byte(e.ID), []byte(a+"\x00"+b)); err != nil {
					return err
				}
				for _, k := range []string{a, b} {
					if ids.Get([]byte(k)) == nil {
						if err := ids.Put([]byte(k), []byte(e.ID)); err != nil {
							return err
						}
					}
				}
				if err := links.Put([]byte(a+"\x00"+b), []byte(e.ID)); err != nil {
					return err
				}
				if err := adj.Put([]byte(a+"\x00"+b), []byte{1}); err != nil {
					return err
				}
				if err := adj.Put([]byte(b+"\x00"+a), []byte{1}); err != nil {
					return err
				}
			}
			return nil
		})
	})
}
