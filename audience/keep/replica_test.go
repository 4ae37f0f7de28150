package keep_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// gatedStore holds the first Keep call until release is closed, telling
// entered when it arrives: a keeper whose round read the store, then
// stalled (a slow replica) before writing.
type gatedStore struct {
	audience.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
	// when, if set, picks the call to hold: the first for which it holds.
	when func(audience.KeepWrite) bool
}

func (g *gatedStore) Keep(ctx context.Context, w audience.KeepWrite) ([]string, error) {
	first := false
	if g.when == nil || g.when(w) {
		g.once.Do(func() { first = true })
	}
	if first {
		close(g.entered)
		<-g.release
	}
	return g.Store.Keep(ctx, w)
}

// stallKeeper runs run on a second keeper over e's store (a slow
// replica's), and returns once that keeper holds at its Keep call that
// when picks (nil: its first); release lets it write, and done gives
// run's result.
func stallKeeper(t *testing.T, e *env, when func(audience.KeepWrite) bool, run func(k *keep.Keeper) error) (release func(), done chan error) {
	t.Helper()
	gate := &gatedStore{Store: e.st, entered: make(chan struct{}), release: make(chan struct{}), when: when}
	slow := keep.New(e.eng, gate, e.cs, func() time.Time { return t0 })
	done = make(chan error, 1)
	go func() { done <- run(slow) }()
	select {
	case <-gate.entered:
	case err := <-done:
		t.Fatalf("the slow keeper ended before the write it was to hold: %v", err)
	}
	return func() { close(gate.release) }, done
}

// proMember stores an audience of the people whose plan is pro, and one
// such person, key, with the event id; it returns the audience and her
// profile, a member after a full pass.
func proMember(e *env, id, key string) (string, string) {
	e.t.Helper()
	aPro := seg(1)
	e.putAudience(aPro, "pro", "", audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}})
	e.apply(ev(id, t0.Add(-3*time.Hour), "", nil, map[string]any{"plan": "pro"}, key))
	A := e.profile(key)
	must(e.t, e.k.RefreshAll(bg))
	e.wantMembers(aPro, A)
	return aPro, A
}

// Two replicas' keepers evaluate one person from different reads. The
// slower one read her before her last change and writes after the faster
// one, which read her after it. Its evaluation of the older state must not
// overwrite the newer one: Ann, a pro again, stays a member, and no exit
// is logged. The reference is worked by hand: her last plan is pro.
func TestReplicaKeeperNeverOverwritesNewerRound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const ann = "user_id:r-ann"
		aPro, A := proMember(e, "r1", ann)

		// She turns basic; the slow replica's keeper reads that and
		// stalls before writing her exit.
		e.apply(ev("r2", t0.Add(-2*time.Hour), "", nil, map[string]any{"plan": "basic"}, ann))
		release, done := stallKeeper(t, e, nil, func(k *keep.Keeper) error { return k.Refresh(bg, []string{A}) })

		// She turns pro again; the other replica's keeper reads that and
		// writes first: she stays a member.
		e.apply(ev("r3", t0.Add(-time.Hour), "", nil, map[string]any{"plan": "pro"}, ann))
		must(t, e.k.Refresh(bg, []string{A}))
		e.wantMembers(aPro, A)

		// The slow keeper writes last.
		release()
		must(t, <-done)
		e.wantMembers(aPro, A)
		e.wantChanges(aPro, oneCall(audience.Entered, t0, A)...)
		fs, err := e.st.Facts(bg, []string{A})
		must(t, err)
		if got := traitFact(fs[A], "plan"); got != "pro" {
			t.Fatalf("Ann's kept facts say plan %v, want pro (her last change)", got)
		}
	})
}

// Keep leaves out, and returns, a profile written since the UpdatedAt the
// write says it was read at: its facts, their deletion and its entries and
// exits of filter audiences. A static audience's changes, a profile read
// as it is, and one the write does not name are written.
func TestKeepRefusesProfilesWrittenSinceRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const ann, bob, cat = "user_id:k-ann", "user_id:k-bob", "user_id:k-cat"
		A, B, C := e.viewers("k", ann, bob, cat)
		read := map[string]time.Time{}
		for id, p := range profiles(t, e, A, B, C) {
			read[id] = graph.Clean(p.UpdatedAt)
		}
		aFilter, aStatic := seg(1), seg(2)
		e.putAudience(aFilter, "viewers", "", audience.Filter{Event: &audience.EventCondition{Name: "Viewed"}})
		must(t, e.st.PutAudience(bg, audience.Audience{ID: aStatic, Name: "saved", Static: true, CreatedAt: t0, UpdatedAt: t0}))
		mustKeep(t, e.st, audience.KeepWrite{At: t0, Changes: []audience.MembershipChange{{AudienceID: aFilter, Enter: sorted(A, C)}}})

		// Ann is written after the read; Bob and Cat are not.
		e.apply(ev("k4", t0, "Viewed", nil, nil, ann))
		facts := func(id string) audience.Facts { return audience.Facts{ProfileID: id, Types: []string{"user_id"}} }
		t1 := t0.Add(time.Minute)
		stale, err := e.st.Keep(bg, audience.KeepWrite{
			At:          t1,
			Read:        read,
			Facts:       []audience.Facts{facts(A), facts(B)},
			DeleteFacts: nil,
			Changes: []audience.MembershipChange{
				{AudienceID: aFilter, Enter: []string{B}, Exit: sorted(A, C)},
				{AudienceID: aStatic, Enter: sorted(A, B), Static: true},
			},
		})
		must(t, err)
		if len(stale) != 1 || stale[0] != A {
			t.Fatalf("Keep returned %v as stale, want [%s] (Ann alone was written since)", stale, A)
		}
		e.wantMembers(aFilter, A, B)
		e.wantMembers(aStatic, A, B)
		fs, err := e.st.Facts(bg, []string{A, B})
		must(t, err)
		if _, ok := fs[A]; ok {
			t.Fatalf("Ann's facts were written from a stale read")
		}
		if _, ok := fs[B]; !ok {
			t.Fatalf("Bob's facts, read as he is, were not written")
		}

		// A stale deletion of facts is left out too; a write naming no
		// read is not checked.
		stale, err = e.st.Keep(bg, audience.KeepWrite{At: t1, Read: read, DeleteFacts: []string{A}, Facts: []audience.Facts{facts(A)}})
		must(t, err)
		if len(stale) != 1 || stale[0] != A {
			t.Fatalf("Keep returned %v as stale, want [%s]", stale, A)
		}
		mustKeep(t, e.st, audience.KeepWrite{At: t1, Facts: []audience.Facts{facts(A)}})
		stale, err = e.st.Keep(bg, audience.KeepWrite{At: t1, Read: read, DeleteFacts: []string{A}})
		must(t, err)
		if fs, err := e.st.Facts(bg, []string{A}); err != nil || len(fs) != 1 || len(stale) != 1 {
			t.Fatalf("a stale deletion of Ann's facts: facts %v (%v), stale %v; want them kept, Ann stale", fs, err, stale)
		}
	})
}

// profiles reads ids as stored.
func profiles(t *testing.T, e *env, ids ...string) map[string]graph.Profile {
	t.Helper()
	var out map[string]graph.Profile
	must(t, e.eng.Store().View(bg, func(ctx context.Context, tx graph.ReadTx) error {
		var err error
		out, err = tx.Profiles(ctx, ids)
		return err
	}))
	return out
}

// traitFact is the value of the trait name in f, nil when absent.
func traitFact(f audience.Facts, name string) any {
	for _, tf := range f.Traits {
		if tf.Name == name {
			return tf.Value
		}
	}
	return nil
}

// A person merged into another and split off again gets her profile id
// back (an erased person's never comes back: it is retired). A round that
// read her as absent, merged away, before she came back, must not write
// her exit: neither over a round that read her back since, nor when none
// did (then the check of what the round read, KeepWrite.Read with her
// UpdatedAt as merged away, tells that the read is stale, and the round
// evaluates her again: she stays). Both fail when the keeper leaves
// profiles that are not live out of KeepWrite.Read.
func TestKeeperReadOfAbsentProfileIsChecked(t *testing.T) {
	for _, fresh := range []bool{true, false} {
		t.Run(fmt.Sprintf("roundBetween=%v", fresh), func(t *testing.T) { testReadOfAbsent(t, fresh) })
	}
}

func testReadOfAbsent(t *testing.T, roundBetween bool) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const ann, bob, bobDevice = "user_id:x-ann", "email:x-bob@example.com", "device_id:x-bob"
		aPro, A := proMember(e, "x1", ann)
		// Bob's profile holds two identifiers: it survives the merge.
		e.apply(ev("x2", t0.Add(-2*time.Hour), "Viewed", nil, nil, bob, bobDevice))
		B := e.profile(bob)
		if _, err := e.eng.MergeProfiles(bg, []string{A, B}, "same household"); err != nil {
			t.Fatal(err)
		}
		if p := e.profile(ann); p != B {
			t.Fatalf("Ann merged into %s, not Bob's %s", p, B)
		}
		release, done := stallKeeper(t, e, nil, func(k *keep.Keeper) error { return k.Refresh(bg, []string{A}) })

		if _, err := e.eng.UnlinkIdentifiers(bg, graph.SplitKey(ann), graph.SplitKey(bob), "not the same person"); err != nil {
			t.Fatal(err)
		}
		if again := e.profile(ann); again != A {
			t.Fatalf("Ann came back as %s, not %s: the test needs her id back", again, A)
		}
		if roundBetween {
			must(t, e.k.Refresh(bg, []string{A}))
			e.wantMembers(aPro, A)
		}

		release()
		must(t, <-done)
		e.wantMembers(aPro, A)
	})
}

// writingStore stores one event of its profile before each of the first
// n Keep calls: a profile written faster than a round reads and writes
// it.
type writingStore struct {
	audience.Store
	e     *env
	key   string
	n     int
	calls int
}

func (w *writingStore) Keep(ctx context.Context, kw audience.KeepWrite) ([]string, error) {
	w.calls++
	if w.calls <= w.n {
		res, err := w.e.eng.ApplyBatch(ctx, []graph.Event{ev(fmt.Sprintf("hot-%d", w.calls), t0.Add(-time.Duration(w.calls)*time.Minute), "Viewed", nil, nil, w.key)})
		if err != nil {
			return nil, err
		}
		if res.Stored != 1 {
			return nil, fmt.Errorf("hot event %d not stored: %+v", w.calls, res.Results)
		}
	}
	return w.Store.Keep(ctx, kw)
}

// A profile written before every check of its round is kept all the same:
// after the retries, the last evaluation is written unchecked.
func TestKeeperKeepsAProfileWrittenFasterThanItsRounds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const bot = "anonymous_id:hot-bot"
		aView := seg(1)
		e.putAudience(aView, "viewers", "", audience.Filter{Event: &audience.EventCondition{Name: "Viewed"}})
		e.apply(ev("h0", t0.Add(-time.Hour), "Opened", nil, nil, bot))
		B := e.profile(bot)
		hot := &writingStore{Store: e.st, e: e, key: bot, n: 100}
		k := keep.New(e.eng, hot, e.cs, func() time.Time { return t0 })
		must(t, k.Refresh(bg, []string{B}))
		e.wantMembers(aView, B)
	})
}

// A member merged away leaves its audiences when a full pass finds it
// stale; if a split gives its id back before that exit is written, it
// stays, as the round that read it live again decided.
func TestDropStaleLeavesAMemberLiveAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const bAnon, aUser, aEmail = "anonymous_id:d-b", "user_id:d-a", "email:d-a@example.com"
		aView := seg(1)
		e.putAudience(aView, "viewers", "", audience.Filter{Event: &audience.EventCondition{Name: "Viewed"}})
		e.apply(ev("d1", t0.Add(-4*time.Hour), "Viewed", nil, nil, bAnon), ev("d2", t0.Add(-4*time.Hour), "Opened", nil, nil, aUser, aEmail))
		B, A := e.profile(bAnon), e.profile(aUser)
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aView, B)
		e.apply(ev("d3", t0.Add(-3*time.Hour), "Opened", nil, nil, bAnon, aUser))
		if got := e.profile(bAnon); got != A {
			t.Fatalf("B joined %s, want A's profile %s to survive", got, A)
		}

		// The slow pass reads B merged away and stalls before its exit.
		exitOfB := func(w audience.KeepWrite) bool {
			return len(w.Facts) == 0 && len(w.Changes) == 1 && slices.Contains(w.Changes[0].Exit, B)
		}
		release, done := stallKeeper(t, e, exitOfB, func(k *keep.Keeper) error { return k.RefreshAll(bg) })

		// Undone: B gets its id back, and a round reads it live.
		if _, err := e.eng.UnlinkIdentifiers(bg, graph.SplitKey(bAnon), graph.SplitKey(aUser), "shared laptop"); err != nil {
			t.Fatal(err)
		}
		if got := e.profile(bAnon); got != B {
			t.Fatalf("after the unlink B is in %s, want its own id %s back", got, B)
		}
		must(t, e.k.Refresh(bg, []string{A, B}))

		release()
		must(t, <-done)
		if got := e.members(aView); !slices.Contains(got, B) {
			t.Fatalf("members after the stale exit: %v; B, live again and a viewer, must stay", got)
		}
	})
}
