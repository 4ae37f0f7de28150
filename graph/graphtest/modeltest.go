package graphtest

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idgraph/cdp/graph"
)

// modelMaxIdentifiers is small, and so are the type limits below, so that
// refusals happen often in a universe of ten identifiers: the largest
// profile the limits allow (1 user_id, 2 emails, 1 device_id, 2
// anonymous_ids) is one past it.
const modelMaxIdentifiers = 5

var modelRulesJSON = fmt.Sprintf(`{"maxIdentifiers": %d, "types": {
	"email": {"limit": 2}, "device_id": {"limit": 1}, "anonymous_id": {"limit": 2}}}`, modelMaxIdentifiers)

// modelChecks is how many random sequences run per store: 200 under CI,
// 50 elsewhere. -rapid.checks or RAPID_CHECKS, when given, win.
func modelChecks() int {
	if os.Getenv("CI") == "true" {
		return 200
	}
	return 50
}

// Rule 6: after every step of random operation sequences, the store's
// partition, refused pairs, links, events and the answer for every profile id
// ever created equal those of the reference model (model.go). Every sequence
// runs on a fresh store: profile ids derive from identifier keys, and ties
// between profiles are broken by id, so a sequence must use the same keys on
// every run for rapid to replay and shrink a failure.
func testModel(t *testing.T, open Opener, checks func() int) {
	rules, err := graph.ParseRules([]byte(modelRulesJSON))
	if err != nil {
		t.Fatalf("rules with maxIdentifiers: %v", err)
	}
	// Finding 1 of issue 9: a manual unlink must stick when a later event
	// carries the pair while the profile is still whole.
	t.Run("UnlinkSticks", func(t *testing.T) {
		h := newModelHarness(t, open(t), rules)
		a, b, c := h.ref(graph.TypeEmail, "e1"), h.ref(graph.TypeAnonymousID, "a1"), h.ref(graph.TypeDeviceID, "d1")
		h.run(t, h.ingest(a, b), h.ingest(b, c), h.ingest(a, c), unlinkOp(a, b), h.ingest(a, b), unlinkOp(a, c))
	})
	// Finding 2: undoing a manual merge gives the merged profile its id back.
	t.Run("UndoMergeKeepsID", func(t *testing.T) {
		h := newModelHarness(t, open(t), rules)
		u, e1, e2 := h.ref(graph.TypeUserID, "u1"), h.ref(graph.TypeEmail, "e1"), h.ref(graph.TypeEmail, "e2")
		h.run(t, h.ingest(u, e1), h.ingest(e2), modelOp{kind: "merge", of: []graph.IdentifierRef{e2, u}, reason: "same person"}, unlinkOp(u, e2))
	})
	// Found by Random: erasing a1 drops it from the members recorded when
	// its first profile was merged away. When a1 comes back (m2 re-sent, m6)
	// and a later erasure splits it off again, that old profile has no claim
	// on it: the erased identifier starts over under a new id.
	t.Run("ResentAfterRemove", func(t *testing.T) {
		h := newModelHarness(t, open(t), rules)
		u, e, a, d := h.ref(graph.TypeUserID, "u1"), h.ref(graph.TypeEmail, "e1"), h.ref(graph.TypeAnonymousID, "a1"), h.ref(graph.TypeDeviceID, "d1")
		junk := h.ref(graph.TypeAnonymousID, "null")
		batch := func(evs ...ModelEvent) modelOp { return modelOp{kind: "ingest", events: evs} }
		ev := func(id string, refs ...graph.IdentifierRef) ModelEvent { return ModelEvent{ID: id, Refs: refs} }
		h.run(t,
			batch(ev("m1", junk, a, a)),
			batch(ev("m2", junk, a, a), ev("m3", u), ev("m4", a, e, u)),
			modelOp{kind: "remove", a: a, reason: "erasure"},
			batch(ev("m5", junk, junk, u), ev("m6", e, a, junk)),
			batch(ev("m6", e, a, junk), ev("m7", d, a)),
			batch(ev("m8", junk), ev("m9", junk, junk, u), ev("m2", junk, a, a)),
			unlinkOp(d, a),
			modelOp{kind: "remove", a: e, reason: "erasure"},
		)
	})
	// Found by Random: d1's profile was merged by hand into e1's, which
	// then merged into u1's. Removing e1 splits d1 off. Both old profiles
	// recorded members that are now {d1} (e1's digest leaves history with
	// it), so the tie goes to the smaller id, the later of the two merges.
	t.Run("RemoveUndoesLaterMerge", func(t *testing.T) {
		h := newModelHarness(t, open(t), rules)
		d, e, u, e2, a := h.ref(graph.TypeDeviceID, "d1"), h.ref(graph.TypeEmail, "e1"), h.ref(graph.TypeUserID, "u1"), h.ref(graph.TypeEmail, "e2"), h.ref(graph.TypeAnonymousID, "a2")
		batch := func(evs ...ModelEvent) modelOp { return modelOp{kind: "ingest", events: evs} }
		ev := func(id string, refs ...graph.IdentifierRef) ModelEvent { return ModelEvent{ID: id, Refs: refs} }
		h.run(t,
			batch(ev("m1", d), ev("m2", e)),
			modelOp{kind: "merge", of: []graph.IdentifierRef{d, e}, reason: "same person"},
			batch(ev("m3", u, e2)),
			batch(ev("m5", u, a)),
			batch(ev("m8", e, u)),
			modelOp{kind: "remove", a: e, reason: "erasure"},
		)
	})
	// Profile ids do not depend on how events were batched: the same events
	// in the same order give every identifier the same profile id whether
	// they arrive in one batch or one at a time. The reference is the model
	// fed one event per batch, each at a later minute.
	t.Run("SameIdsHoweverBatched", func(t *testing.T) {
		h := newModelHarness(t, open(t), rules)
		d, a, e := h.ref(graph.TypeDeviceID, "d1"), h.ref(graph.TypeAnonymousID, "a1"), h.ref(graph.TypeEmail, "e1")
		ev := func(id string, refs ...graph.IdentifierRef) ModelEvent { return ModelEvent{ID: id, Refs: refs} }
		// d1 is seen first, then with a1: one at a time, d1's profile is
		// the older and keeps its id; in one batch it must too.
		h.runSerial(t, modelOp{kind: "ingest", events: []ModelEvent{ev("m1", d), ev("m2", d, a), ev("m3", e), ev("m4", e, a)}})
	})
	// Two identifiers that one event carried to a full profile are both
	// refused and start profiles of one age; a later event of the batch
	// links them. One at a time, they would be two stored profiles by
	// then, and the tie would go to the smaller profile id, not the
	// smaller identifier.
	t.Run("SameIdsHoweverBatchedTie", func(t *testing.T) {
		h := newModelHarness(t, open(t), rules)
		u, e1, e2, a1, a2 := h.ref(graph.TypeUserID, "u1"), h.ref(graph.TypeEmail, "e1"), h.ref(graph.TypeEmail, "e2"), h.ref(graph.TypeAnonymousID, "a1"), h.ref(graph.TypeAnonymousID, "a2")
		ev := func(id string, refs ...graph.IdentifierRef) ModelEvent { return ModelEvent{ID: id, Refs: refs} }
		ops := []modelOp{{kind: "ingest", events: []ModelEvent{ev("m1", u, e1, e2, a1, a2)}}}
		for _, later := range [][2]graph.IdentifierRef{
			{h.ref(graph.TypeAnonymousID, "a3"), h.ref(graph.TypeDeviceID, "d1")},
			{h.ref(graph.TypeEmail, "e3"), h.ref(graph.TypeDeviceID, "d2")},
		} {
			ops = append(ops, modelOp{kind: "ingest", events: []ModelEvent{
				ev("m2"+later[0].Value, u, later[0], later[1]),
				ev("m3"+later[0].Value, later[0], later[1]),
			}})
		}
		h.runSerial(t, ops...)
	})
	// The same tie, where a3's first id is taken: a3 started a profile and
	// was removed, so the profile it starts again gets its second id, and
	// the tie compares that one.
	t.Run("SameIdsHoweverBatchedTakenId", func(t *testing.T) {
		h := newModelHarness(t, open(t), rules)
		u, e1, e2, e3 := h.ref(graph.TypeUserID, "u1"), h.ref(graph.TypeEmail, "e1"), h.ref(graph.TypeEmail, "e2"), h.ref(graph.TypeEmail, "e3")
		a1, a2, a3, d2 := h.ref(graph.TypeAnonymousID, "a1"), h.ref(graph.TypeAnonymousID, "a2"), h.ref(graph.TypeAnonymousID, "a3"), h.ref(graph.TypeDeviceID, "d2")
		ev := func(id string, refs ...graph.IdentifierRef) ModelEvent { return ModelEvent{ID: id, Refs: refs} }
		h.runSerial(t,
			modelOp{kind: "ingest", events: []ModelEvent{ev("m0", e3, a3)}},
			modelOp{kind: "remove", a: a3, reason: "typo"},
			modelOp{kind: "ingest", events: []ModelEvent{ev("m1", u, e1, e2, a1, a2)}},
			modelOp{kind: "ingest", events: []ModelEvent{ev("m2", u, a3, d2), ev("m3", a3, d2)}},
		)
	})
	// Random batches, after a prelude of single events and removals (so
	// that ids are taken and identifiers come back): the store fed the
	// batches and the model fed one event at a time agree. Removals stay in
	// the prelude: a profile that one batch started and merged away at once
	// is never stored, where one event per batch would have stored it, so
	// a later split has no such profile to give a part back to.
	t.Run("RandomBatching", func(t *testing.T) {
		randomSequences(t, open, rules, checks()/2, func(rt *rapid.T, h *modelHarness) {
			var ops []modelOp
			for range rapid.IntRange(0, 4).Draw(rt, "prelude") {
				op := h.drawIngest(rt)
				if stored := h.m.Stored(); len(stored) > 0 && rapid.IntRange(0, 2).Draw(rt, "remove") == 0 {
					op = modelOp{kind: "remove", a: graph.SplitKey(rapid.SampledFrom(stored).Draw(rt, "identifier")), reason: "property test"}
				}
				for _, one := range op.split() {
					ops = append(ops, one)
					h.step(rt, one)
				}
			}
			for range rapid.IntRange(1, 6).Draw(rt, "batches") {
				op := h.drawIngest(rt)
				ops = append(ops, op)
				h.step(rt, op)
			}
			h.compareSerial(rt, ops)
		})
	})
	t.Run("Random", func(t *testing.T) {
		randomSequences(t, open, rules, checks(), func(rt *rapid.T, h *modelHarness) {
			for range rapid.IntRange(1, 12).Draw(rt, "steps") {
				h.step(rt, h.draw(rt))
			}
		})
	})
}

// randomSequences runs n random sequences (rapid checks), each on a fresh
// store through its own harness, with some of the universe's identifiers
// in play: few identifiers make cycles, re-sent pairs and limits likely.
func randomSequences(t *testing.T, open Opener, rules *graph.Rules, n int, run func(*rapid.T, *modelHarness)) {
	if _, release := freshStore(t, open); release() {
		t.Skip("the store is not available")
	}
	withRapidChecks(t, n, func() {
		rapid.Check(t, func(rt *rapid.T) {
			s, release := freshStore(t, open)
			defer release()
			if s == nil {
				rt.Fatalf("could not open a store")
			}
			h := newModelHarness(rt, s, rules)
			h.inPlay = rapid.IntRange(3, len(h.uni)).Draw(rt, "identifiers in play")
			run(rt, h)
		})
	})
}

// freshStore opens a store in a subtest of t that lasts until release is
// called, so that the Opener's cleanup (closing the store and, on Neo4j,
// releasing the test lock) runs when the sequence ends rather than when t
// does. The store is nil when the subtest failed or skipped; release
// reports whether it skipped.
func freshStore(t *testing.T, open Opener) (graph.Store, func() bool) {
	got, done, ended := make(chan graph.Store), make(chan struct{}), make(chan struct{})
	skipped := false
	go func() {
		defer close(ended)
		t.Run("store", func(t *testing.T) {
			var s graph.Store
			defer func() {
				skipped = t.Skipped()
				got <- s
				if s != nil {
					<-done
				}
			}()
			s = open(t)
		})
	}()
	s := <-got
	return s, func() bool {
		close(done)
		<-ended
		return skipped
	}
}

// withRapidChecks runs fn with rapid's check count set to n, unless the
// count was given on the command line or in RAPID_CHECKS.
func withRapidChecks(t *testing.T, n int, fn func()) {
	f := flag.Lookup("rapid.checks")
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "rapid.checks" })
	if _, env := os.LookupEnv("RAPID_CHECKS"); f == nil || given || env {
		fn()
		return
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		t.Fatalf("set rapid.checks: %v", err)
	}
	defer func() {
		if err := f.Value.Set(old); err != nil {
			t.Errorf("restore rapid.checks: %v", err)
		}
	}()
	fn()
}

// fataler is what both *testing.T and *rapid.T offer.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// modelOp is one operation of a sequence.
type modelOp struct {
	kind   string // "ingest", "merge", "unlink" or "remove"
	events []ModelEvent
	ids    []string              // merge: profile ids as given
	of     []graph.IdentifierRef // merge: the profiles holding these now
	a, b   graph.IdentifierRef   // unlink a-b; remove a
	reason string
}

func unlinkOp(a, b graph.IdentifierRef) modelOp {
	return modelOp{kind: "unlink", a: a, b: b, reason: "not the same person"}
}

func (o modelOp) String() string {
	var s string
	switch o.kind {
	case "ingest":
		var evs []string
		for _, ev := range o.events {
			var ks []string
			for _, r := range ev.Refs {
				ks = append(ks, r.Key())
			}
			evs = append(evs, ev.ID+"{"+strings.Join(ks, " ")+"}")
		}
		s = "ingest " + strings.Join(evs, " ")
	case "merge":
		s = "merge " + strings.Join(o.ids, " ")
	case "unlink":
		s = "unlink " + o.a.Key() + " " + o.b.Key()
	case "remove":
		s = "remove " + o.a.Key()
	}
	if o.kind != "ingest" && strings.TrimSpace(o.reason) == "" {
		s += ` (blank reason)`
	}
	return s
}

// modelHarness drives one sequence through an engine on a fresh store and
// through the model, and compares them after every step.
type modelHarness struct {
	e       *graph.Engine
	m       *Model
	uni     []graph.IdentifierRef // the universe of identifiers
	inPlay  int                   // how many of them draw picks from
	keys    []string
	clock   time.Time
	sent    map[string]graph.Event
	sentIDs []string
	msgs    int
	log     []string
}

func newModelHarness(t fataler, s graph.Store, rules *graph.Rules) *modelHarness {
	t.Helper()
	h := &modelHarness{e: graph.NewEngine(s, rules), m: NewModel(rules, modelMaxIdentifiers), clock: t0, sent: map[string]graph.Event{}}
	h.e.Now = func() time.Time { return h.clock }
	// Mixed types first: a sequence that draws a few identifiers only (see
	// inPlay) still meets limits and refusals.
	for _, r := range [][2]string{
		{graph.TypeUserID, "u1"}, {graph.TypeEmail, "e1"}, {graph.TypeAnonymousID, "a1"}, {graph.TypeDeviceID, "d1"},
		{graph.TypeEmail, "e2"}, {graph.TypeAnonymousID, "a2"}, {graph.TypeUserID, "u2"}, {graph.TypeEmail, "e3"},
		{graph.TypeDeviceID, "d2"}, {graph.TypeAnonymousID, "a3"},
	} {
		ref := h.ref(r[0], r[1])
		h.uni = append(h.uni, ref)
		h.keys = append(h.keys, ref.Key())
	}
	return h
}

// ref names an identifier of the universe; values are already normalized,
// so the reference is its own key.
func (h *modelHarness) ref(typ, v string) graph.IdentifierRef {
	if typ == graph.TypeEmail {
		v += "@x.io"
	}
	return graph.IdentifierRef{Type: typ, Value: v}
}

// ingest is a batch of one new event carrying refs.
func (h *modelHarness) ingest(refs ...graph.IdentifierRef) modelOp {
	h.msgs++
	return modelOp{kind: "ingest", events: []ModelEvent{{ID: fmt.Sprintf("m%d", h.msgs), Refs: refs}}}
}

func (h *modelHarness) run(t fataler, ops ...modelOp) {
	t.Helper()
	for _, op := range ops {
		h.step(t, op)
	}
}

// step applies op to the engine and the model, then compares everything.
func (h *modelHarness) step(t fataler, op modelOp) {
	t.Helper()
	ctx := context.Background()
	h.clock = h.clock.Add(time.Minute)
	h.m.Now++
	for _, r := range op.of {
		op.ids = append(op.ids, h.m.idents[r.Key()])
	}
	h.log = append(h.log, fmt.Sprintf("%3d. %s", len(h.log)+1, op))
	var got, want string
	switch op.kind {
	case "ingest":
		evs := make([]graph.Event, len(op.events))
		for i, me := range op.events {
			ev, ok := h.sent[me.ID]
			if !ok {
				// Every event has one timestamp, so a repeat is an exact retry.
				ev = graph.Event{ID: me.ID, Type: "track", Name: "Viewed", Channel: "web", Source: "test", Timestamp: t0, Identifiers: me.Refs}
				h.sent[me.ID] = ev
				h.sentIDs = append(h.sentIDs, me.ID)
			}
			ev.Identifiers = slices.Clone(ev.Identifiers)
			evs[i] = ev
		}
		res, err := h.e.ApplyBatch(ctx, evs)
		if err != nil {
			t.Fatalf("%s\nApplyBatch: %v", h.history(), err)
		}
		var statuses []string
		for _, r := range res.Results {
			statuses = append(statuses, r.Status)
		}
		got, want = strings.Join(statuses, " "), strings.Join(h.m.Ingest(op.events), " ")
		for i, r := range res.Results {
			if r.Status == graph.StatusStored {
				ks, _ := h.e.Normalizer().NormalizeAll(evs[i].Identifiers)
				if mp := h.m.idents[ks[0]]; mp != r.ProfileID {
					t.Fatalf("%s\nevent %s answered profile %s, the model's anchor is in %s", h.history(), r.ID, r.ProfileID, mp)
				}
			}
		}
	case "merge":
		p, err := h.e.MergeProfiles(ctx, op.ids, op.reason)
		got = outcome(p.ID, err)
		id, code := h.m.Merge(op.ids, op.reason)
		want = outcome(id, modelErr(code))
		if err == nil && id == p.ID {
			if n := h.m.size(id); p.Size != n {
				t.Fatalf("%s\nmergeProfiles answered a profile of %d identifiers, the model's holds %d", h.history(), p.Size, n)
			}
		}
	case "unlink":
		ps, err := h.e.UnlinkIdentifiers(ctx, op.a, op.b, op.reason)
		got, want = outcome("", err), outcome("", modelErr(h.m.Unlink(op.a, op.b, op.reason)))
		if err == nil {
			var g []string
			for _, p := range ps {
				g = append(g, p.ID)
			}
			w := []string{h.m.idents[op.a.Key()], h.m.idents[op.b.Key()]}
			slices.Sort(g)
			slices.Sort(w)
			w = slices.Compact(w)
			if !slices.Equal(g, w) {
				t.Fatalf("%s\nunlinkIdentifiers answered profiles %v, the model's a and b are in %v", h.history(), g, w)
			}
		}
	case "remove":
		before := h.m.idents[op.a.Key()]
		var others []string
		for k, pid := range h.m.idents {
			if pid == before && k != op.a.Key() {
				others = append(others, k)
			}
		}
		ps, err := h.e.RemoveIdentifier(ctx, op.a, op.reason)
		got, want = outcome("", err), outcome("", modelErr(h.m.Remove(op.a, op.reason)))
		if err == nil {
			var g, w []string
			for _, p := range ps {
				g = append(g, p.ID)
			}
			for _, k := range others {
				w = append(w, h.m.idents[k])
			}
			slices.Sort(g)
			slices.Sort(w)
			w = slices.Compact(w)
			if !slices.Equal(g, w) {
				t.Fatalf("%s\nremoveIdentifier answered profiles %v, the model's rest of the profile is in %v", h.history(), g, w)
			}
		}
	default:
		t.Fatalf("unknown operation %q", op.kind)
	}
	h.log[len(h.log)-1] += "  => " + want
	if err := h.m.check(); err != nil {
		t.Fatalf("%s\n%v", h.history(), err)
	}
	if got != want {
		t.Fatalf("%s\nthe store answered %s, the model %s", h.history(), got, want)
	}
	obs, err := h.observe(ctx)
	if err != nil {
		t.Fatalf("%s\nread the store: %v", h.history(), err)
	}
	if diff := diffStates(obs, h.m.State()); diff != "" {
		t.Fatalf("%s\nafter the last step, store and model differ:\n%s", h.history(), diff)
	}
	if err := h.checkHistory(ctx); err != nil {
		t.Fatalf("%s\n%v", h.history(), err)
	}
	if err := h.checkExplain(ctx, op.refs()); err != nil {
		t.Fatalf("%s\n%v", h.history(), err)
	}
}

// split is op as one operation per event (an ingest) or itself.
func (o modelOp) split() []modelOp {
	if o.kind != "ingest" {
		return []modelOp{o}
	}
	out := make([]modelOp, len(o.events))
	for i, ev := range o.events {
		out[i] = modelOp{kind: "ingest", events: []ModelEvent{ev}}
	}
	return out
}

// runSerial runs ops on the store and the model (step), then compares the
// store with a model fed them one event per batch (compareSerial).
func (h *modelHarness) runSerial(t fataler, ops ...modelOp) {
	t.Helper()
	h.run(t, ops...)
	h.compareSerial(t, ops)
}

// compareSerial feeds a fresh model ops, the events of each ingest one per
// batch, each operation a minute after the last, and compares the profile
// id of every identifier of the universe, and the refused pairs, with the
// store's. Only ingests and removals are replayed.
func (h *modelHarness) compareSerial(t fataler, ops []modelOp) {
	t.Helper()
	ref := NewModel(h.m.norm.Rules(), h.m.max)
	for _, op := range ops {
		for _, one := range op.split() {
			ref.Now++
			switch one.kind {
			case "ingest":
				ref.Ingest(one.events)
			case "remove":
				ref.Remove(one.a, one.reason)
			default:
				t.Fatalf("compareSerial: cannot replay a %s", one.kind)
			}
		}
	}
	got := map[string]string{}
	err := h.e.Store().View(context.Background(), func(ctx context.Context, tx graph.ReadTx) error {
		idents, err := tx.Identifiers(ctx, h.keys)
		if err != nil {
			return err
		}
		rej, err := tx.Rejected(ctx, h.keys)
		if err != nil {
			return err
		}
		clear(got)
		for k, id := range idents {
			got["identifier "+k] = id.ProfileID
		}
		for _, r := range rej {
			lk := graph.NewLinkKey(r.A, r.B)
			got["refused "+lk.A+" "+lk.B] = r.Source
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s\nread the store: %v", h.history(), err)
	}
	want := map[string]string{}
	for k, id := range ref.idents {
		want["identifier "+k] = id
	}
	for lk, src := range ref.refused {
		want["refused "+lk.A+" "+lk.B] = src
	}
	if diff := diffStates(got, want); diff != "" {
		t.Fatalf("%s\nthe store, fed these batches, and the model, fed one event at a time, differ:\n%s", h.history(), diff)
	}
}

// history lists the operations so far, each with the model's outcome.
func (h *modelHarness) history() string {
	return "operations:\n" + strings.Join(h.log, "\n")
}

func modelErr(code string) error {
	if code == "" {
		return nil
	}
	return graph.Errorf(code, "model")
}

// outcome renders an operation's result: "ok" (with the survivor of a
// merge), or the error code; an error without a code shows its message.
func outcome(id string, err error) string {
	switch code := graph.ErrorCode(err); code {
	case "":
		return strings.TrimSpace("ok " + id)
	case graph.EINTERNAL:
		return "internal error: " + err.Error()
	default:
		return "error " + code
	}
}

// observe reads from the store, in the form of Model.State, everything the
// model predicts.
func (h *modelHarness) observe(ctx context.Context) (map[string]string, error) {
	ids := h.m.Created()
	answers, err := h.e.ProfilesByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, id := range ids {
		if p, ok := answers[id]; ok {
			out["answer "+id] = p.ID
		} else {
			out["answer "+id] = "not found"
		}
	}
	err = h.e.Store().View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		st := map[string]string{}
		idents, err := tx.Identifiers(ctx, h.keys)
		if err != nil {
			return err
		}
		inProfile := map[string][]string{}
		for _, k := range h.keys {
			if id, ok := idents[k]; ok {
				inProfile[id.ProfileID] = append(inProfile[id.ProfileID], k)
			}
		}
		for _, keys := range inProfile {
			st["partition "+strings.Join(slices.Sorted(slices.Values(keys)), " ")] = "present"
		}
		pidSet := map[string]bool{}
		for pid := range inProfile {
			pidSet[pid] = true
		}
		for _, p := range answers {
			pidSet[p.ID] = true
		}
		pids := slices.Sorted(maps.Keys(pidSet))
		profs, err := tx.Profiles(ctx, pids)
		if err != nil {
			return err
		}
		members, err := tx.Members(ctx, pids)
		if err != nil {
			return err
		}
		for _, pid := range pids {
			p, ok := profs[pid]
			switch {
			case !ok:
				st["profile "+pid] = "missing"
			case !p.Live():
				st["profile "+pid] = "merged into " + p.MergedInto
			default:
				var keys []string
				for _, m := range members[pid] {
					keys = append(keys, m.Key)
				}
				slices.Sort(keys)
				st["profile "+pid] = renderProfile(keys, p.Size, p.Counts, int(p.CreatedAt.Sub(t0)/time.Minute))
			}
		}
		links, err := tx.Links(ctx, h.keys)
		if err != nil {
			return err
		}
		for _, l := range links {
			lk := graph.NewLinkKey(l.A, l.B)
			st["link "+lk.A+" "+lk.B] = renderLink(l.Count, l.Source == graph.SourceManual)
		}
		rej, err := tx.Rejected(ctx, h.keys)
		if err != nil {
			return err
		}
		for _, r := range rej {
			lk := graph.NewLinkKey(r.A, r.B)
			st["refused "+lk.A+" "+lk.B] = r.Source
		}
		evs, err := tx.Events(ctx, h.sentIDs)
		if err != nil {
			return err
		}
		for id, ev := range evs {
			st["event "+id] = strings.Join(slices.Sorted(slices.Values(ev.Keys)), " ")
		}
		n, err := tx.CountProfiles(ctx)
		if err != nil {
			return err
		}
		st["live profiles"] = strconv.Itoa(n)
		maps.Copy(out, st) // only the last attempt counts: View may run fn again
		return nil
	})
	return out, err
}

// diffStates lists every entry where the store and the model differ.
func diffStates(store, model map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(mapsUnion(store, model))) {
		s, sok := store[k]
		m, mok := model[k]
		if s != m || sok != mok {
			fmt.Fprintf(&b, "  %s\n      store: %s\n      model: %s\n", k, orNone(s, sok), orNone(m, mok))
		}
	}
	return b.String()
}

func mapsUnion(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func orNone(s string, ok bool) string {
	if !ok {
		return "(none)"
	}
	return s
}

// draw draws the next operation from what the model knows: unlinks mostly
// pick a pair it knows is linked directly, merges pick ids it created
// (merged away and deleted ones too), removals pick stored identifiers; a
// few are invalid on purpose.
func (h *modelHarness) draw(t *rapid.T) modelOp {
	kind := rapid.IntRange(0, 19).Draw(t, "kind")
	if kind < 10 {
		return h.drawIngest(t)
	}
	reason := "property test"
	if rapid.IntRange(0, 24).Draw(t, "blank reason") == 0 {
		reason = " "
	}
	switch {
	case kind < 15:
		if links := h.m.Links(); len(links) > 0 && rapid.IntRange(0, 4).Draw(t, "unlink anything") != 0 {
			lk := rapid.SampledFrom(links).Draw(t, "link")
			a, b := graph.SplitKey(lk.A), graph.SplitKey(lk.B)
			if rapid.Bool().Draw(t, "swap") {
				a, b = b, a
			}
			return modelOp{kind: "unlink", a: a, b: b, reason: reason}
		}
		return modelOp{kind: "unlink", a: rapid.SampledFrom(h.uni[:h.inPlay]).Draw(t, "a"), b: rapid.SampledFrom(h.uni[:h.inPlay]).Draw(t, "b"), reason: reason}
	case kind < 17:
		created := h.m.Created()
		if len(created) == 0 {
			return h.drawIngest(t)
		}
		var ids []string
		for range rapid.IntRange(2, 3).Draw(t, "profiles") {
			ids = append(ids, rapid.SampledFrom(created).Draw(t, "profile"))
		}
		if rapid.IntRange(0, 9).Draw(t, "missing profile") == 0 {
			ids[0] = "p_missing"
		}
		return modelOp{kind: "merge", ids: ids, reason: reason}
	default:
		if stored := h.m.Stored(); len(stored) > 0 && rapid.IntRange(0, 4).Draw(t, "remove anything") != 0 {
			return modelOp{kind: "remove", a: graph.SplitKey(rapid.SampledFrom(stored).Draw(t, "identifier")), reason: reason}
		}
		r := rapid.SampledFrom(append(slices.Clone(h.uni[:h.inPlay]), anon("null"))).Draw(t, "identifier")
		return modelOp{kind: "remove", a: r, reason: reason}
	}
}

// drawIngest draws a batch of one to three events: new ones carrying one to
// three identifiers (now and then a blocked value), the identifiers of an
// earlier event again, a pair the model knows was refused (by a person or by
// the rules), or two identifiers of one profile not linked directly (which
// makes cycles, so that an unlink can leave a profile whole); and retries of
// events sent before or earlier in the batch.
func (h *modelHarness) drawIngest(t *rapid.T) modelOp {
	op := modelOp{kind: "ingest"}
	for range rapid.IntRange(1, 3).Draw(t, "events") {
		var earlier []ModelEvent
		for _, id := range h.sentIDs {
			earlier = append(earlier, ModelEvent{ID: id, Refs: h.sent[id].Identifiers})
		}
		earlier = append(earlier, op.events...)
		var refs []graph.IdentifierRef
		switch k := rapid.IntRange(0, 9).Draw(t, "event"); {
		case k == 0 && len(earlier) > 0:
			op.events = append(op.events, rapid.SampledFrom(earlier).Draw(t, "retry"))
			continue
		case k <= 2 && len(earlier) > 0:
			refs = rapid.SampledFrom(earlier).Draw(t, "seen again").Refs
		case k == 3 && len(h.m.Refused(graph.SourceManual)) > 0:
			lk := rapid.SampledFrom(h.m.Refused(graph.SourceManual)).Draw(t, "unlinked pair again")
			refs = []graph.IdentifierRef{graph.SplitKey(lk.A), graph.SplitKey(lk.B)}
		case k == 4 && len(h.m.Unlinked()) > 0:
			lk := rapid.SampledFrom(h.m.Unlinked()).Draw(t, "one person's pair")
			refs = []graph.IdentifierRef{graph.SplitKey(lk.A), graph.SplitKey(lk.B)}
		case k == 5 && len(h.m.Refused(graph.SourceRules)) > 0:
			lk := rapid.SampledFrom(h.m.Refused(graph.SourceRules)).Draw(t, "refused pair again")
			refs = []graph.IdentifierRef{graph.SplitKey(lk.A), graph.SplitKey(lk.B)}
		default:
			for range rapid.IntRange(1, 3).Draw(t, "identifiers") {
				if rapid.IntRange(0, 14).Draw(t, "blocked") == 0 {
					refs = append(refs, anon("null"))
				} else {
					refs = append(refs, rapid.SampledFrom(h.uni[:h.inPlay]).Draw(t, "identifier"))
				}
			}
		}
		h.msgs++
		op.events = append(op.events, ModelEvent{ID: fmt.Sprintf("m%d", h.msgs), Refs: refs})
	}
	return op
}
