package graphtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// RunFeed checks the change feed of a store that keeps one
// (graph.FeedStore, graph.FeedTx): what ingestion, corrections and
// erasure append, in one transaction with their change; reading after a
// cursor; trimming; and Seqs that stay consecutive under concurrent
// writers. The expected entries are worked out by hand from the
// operations.
func RunFeed(t *testing.T, open Opener) {
	t.Run("Entries", func(t *testing.T) { testFeedEntries(t, open) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testFeedConcurrent(t, open) })
	t.Run("LoadFeedMarks", func(t *testing.T) { testFeedMarks(t, open) })
	t.Run("LoadFeedOverlap", func(t *testing.T) { testFeedLoadOverlap(t, open) })
}

// testFeedLoadOverlap: copied entries loaded again (dump.FeedWriter.LoadFeed,
// as a copy run again with --force does) replace the entries of their Seqs
// whatever the runs that stored them before: a run that starts or ends at
// another Seq, or runs split otherwise. Each Seq is read back once, with
// the content loaded last; a stored run that reaches past a loaded one
// keeps its entries outside it, with their time.
func testFeedLoadOverlap(t *testing.T, open Opener) {
	type loader interface {
		graph.FeedStore
		LoadFeed(ctx context.Context, entries []graph.FeedEntry) error
	}
	// Each load is one LoadFeed call of runs [first, last]; a run's
	// entries share a time, which differs from run to run and from load
	// to load, so that graph.FeedRuns keeps the runs apart.
	for _, c := range []struct {
		name  string
		loads [][][2]int
	}{
		{"RunStartsLater", [][][2]int{{{1, 10}}, {{2, 10}}}},
		{"RunEndsEarlier", [][][2]int{{{1, 10}}, {{1, 9}}}},
		{"OneRunThenTwo", [][][2]int{{{1, 10}}, {{1, 4}, {5, 10}}}},
		{"TwoRunsThenOne", [][][2]int{{{1, 4}, {5, 10}}, {{1, 10}}}},
		{"InsideOneRun", [][][2]int{{{1, 10}}, {{4, 6}}}},
		{"AcrossTwoRuns", [][][2]int{{{1, 4}, {5, 10}}, {{3, 7}}}},
		{"AcrossMany", [][][2]int{{{1, 3}, {4, 6}, {7, 9}, {10, 10}}, {{2, 8}}, {{1, 5}, {6, 10}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			fs, ok := s.(loader)
			if !ok {
				t.Fatalf("%T cannot load a copy's feed", s)
			}
			// want[seq] is the entry loaded last at seq.
			want := map[uint64]string{}
			render := func(e graph.FeedEntry) string {
				return fmt.Sprintf("%d %s %s %s", e.Seq, e.ProfileID, e.EventID, e.At.Format(time.TimeOnly))
			}
			for l, runs := range c.loads {
				var es []graph.FeedEntry
				for r, run := range runs {
					when := at(10*(l+1) + r)
					for seq := run[0]; seq <= run[1]; seq++ {
						e := graph.FeedEntry{Seq: uint64(seq), At: when, Kind: graph.FeedEventAdded,
							ProfileID: fmt.Sprintf("p%d", seq), EventID: fmt.Sprintf("e%d-load%d", seq, l+1)}
						es = append(es, e)
						want[e.Seq] = render(e)
					}
				}
				if err := fs.LoadFeed(ctx, es); err != nil {
					t.Fatalf("load %d: %v", l+1, err)
				}
			}
			seqs := slices.Sorted(maps.Keys(want))
			for i, after := range append([]uint64{0}, seqs...) {
				es, err := fs.Feed(ctx, after, nil, graph.MaxFeedPage)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]string, len(es))
				for j, e := range es {
					got[j] = render(e)
				}
				var w []string
				for _, seq := range seqs[i:] {
					w = append(w, want[seq])
				}
				wantFeed(t, fmt.Sprintf("the feed after %d, once %v are loaded", after, c.loads), got, w)
			}
			if h, err := fs.FeedHead(ctx); err != nil || h != seqs[len(seqs)-1] {
				t.Fatalf("FeedHead = %d, %v; want %d", h, err, seqs[len(seqs)-1])
			}
		})
	}
}

// testFeedMarks: a copy's feed marks (dump.FeedWriter.LoadFeedMarks)
// raise the feed's head and trimmed mark, and lower neither.
func testFeedMarks(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	type marker interface {
		graph.FeedStore
		LoadFeedMarks(ctx context.Context, head, trimmed uint64) error
	}
	fs, ok := s.(marker)
	if !ok {
		t.Fatalf("%T cannot load a copy's feed marks", s)
	}
	for _, m := range [][2]uint64{{15, 3}, {12, 2}} {
		if err := fs.LoadFeedMarks(ctx, m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	head, err := fs.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	trimmed, err := fs.FeedTrimmed(ctx)
	if err != nil || head != 15 || trimmed != 3 {
		t.Fatalf("marks %d and %d (%v), want 15 and 3", head, trimmed, err)
	}
}

// feedString renders an entry without its time: "seq KIND profile
// [previous] event".
func feedString(e graph.FeedEntry) string {
	s := fmt.Sprintf("%d %s %s", e.Seq, e.Kind, e.ProfileID)
	if len(e.PreviousIDs) > 0 {
		s += fmt.Sprint(" ", e.PreviousIDs)
	}
	if e.EventID != "" {
		s += " " + e.EventID
	}
	if e.AudienceID != "" {
		s += " " + e.AudienceID
	}
	return s
}

func readFeed(t *testing.T, fs graph.FeedStore, after uint64, kinds []graph.FeedKind, limit int) []string {
	t.Helper()
	es, err := fs.Feed(context.Background(), after, kinds, limit)
	if err != nil {
		t.Fatalf("Feed(%d, %v, %d): %v", after, kinds, limit, err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = feedString(e)
		if e.At.IsZero() || e.At.Location() != time.UTC {
			t.Fatalf("entry %s has time %v, want a UTC time", out[i], e.At)
		}
	}
	return out
}

func wantFeed(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !same(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func testFeedEntries(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	fs, ok := s.(graph.FeedStore)
	if !ok {
		t.Fatalf("%T keeps no feed", s)
	}
	e := graph.NewEngine(s, nil)
	if h, err := fs.FeedHead(ctx); err != nil || h != 0 {
		t.Fatalf("FeedHead of an empty store = %d, %v; want 0", h, err)
	}
	wantFeed(t, "an empty feed", readFeed(t, fs, 0, nil, 100), nil)

	// Two events of one visitor: one transaction, two entries.
	apply(t, e, ev("a1", 1, anon("X")), ev("a2", 2, anon("X")))
	pX := profileOf(t, e, anon("X")).ID
	// An identify with traits: its event, then the traits.
	login := ev("b1", 3, user("U"))
	login.Type, login.Traits = "identify", map[string]any{"plan": "pro"}
	apply(t, e, login)
	pU := profileOf(t, e, user("U")).ID
	// The visitor logs in: a merge, then the event, into the survivor.
	res := apply(t, e, ev("c1", 4, anon("X"), user("U")))
	if len(res.Merged) != 1 {
		t.Fatalf("the login merged %v, want one profile", res.Merged)
	}
	loser := res.Merged[0]
	survivor := profileOf(t, e, user("U")).ID
	if !(loser == pX && survivor == pU || loser == pU && survivor == pX) {
		t.Fatalf("merge kept %s and merged %s; want %s and %s, one into the other", survivor, loser, pX, pU)
	}
	// Undone: a split, which gives the merged profile its id back.
	if _, err := e.UnlinkIdentifiers(ctx, anon("X"), user("U"), "shared laptop"); err != nil {
		t.Fatal(err)
	}
	a, b := profileOf(t, e, anon("X")).ID, profileOf(t, e, user("U")).ID
	split := a
	if a == survivor {
		split = b
	}
	want := []string{
		"1 EVENT_ADDED " + pX + " a1",
		"2 EVENT_ADDED " + pX + " a2",
		"3 EVENT_ADDED " + pU + " b1",
		"4 TRAITS_CHANGED " + pU,
		"5 MERGED " + survivor + " [" + loser + "]",
		"6 EVENT_ADDED " + survivor + " c1",
		"7 SPLIT " + split + " [" + survivor + "]",
	}
	wantFeed(t, "the whole feed", readFeed(t, fs, 0, nil, 100), want)
	if h, err := fs.FeedHead(ctx); err != nil || h != 7 {
		t.Fatalf("FeedHead = %d, %v; want 7", h, err)
	}
	// Reading after a cursor, from the start, the middle or the end of a
	// transaction's entries; a limit; kinds.
	wantFeed(t, "after 0, 3 entries", readFeed(t, fs, 0, nil, 3), want[:3])
	wantFeed(t, "after 2, 1 entry", readFeed(t, fs, 2, nil, 1), want[2:3])
	wantFeed(t, "after 3", readFeed(t, fs, 3, nil, 100), want[3:])
	wantFeed(t, "after 7", readFeed(t, fs, 7, nil, 100), nil)
	wantFeed(t, "after 100", readFeed(t, fs, 100, nil, 100), nil)
	wantFeed(t, "merges and splits", readFeed(t, fs, 0, []graph.FeedKind{graph.FeedMerged, graph.FeedSplit}, 100), []string{want[4], want[6]})
	wantFeed(t, "events after 1, two", readFeed(t, fs, 1, []graph.FeedKind{graph.FeedEventAdded}, 2), []string{want[1], want[2]})

	// The visitor's profile, which the split gave its id back, is
	// erased: every entry naming it becomes a gap, and so does a merge or
	// split left naming no other profile; its Forgotten entry is the only
	// one left that names it.
	if gone := profileOf(t, e, anon("X")).ID; gone != pX {
		t.Fatalf("after the split the visitor is in %s, want its own profile %s back", gone, pX)
	}
	if _, err := e.ForgetProfile(ctx, pX, "erasure request", nil); err != nil {
		t.Fatal(err)
	}
	kept := []string{"3 EVENT_ADDED " + pU + " b1", "4 TRAITS_CHANGED " + pU}
	if survivor == pU {
		// 5 MERGED pU [pX] is left with no other profile; 7 SPLIT pX
		// [pU] names pX.
		kept = append(kept, "6 EVENT_ADDED "+pU+" c1")
	} // else 5 and 6 name pX, and 7 SPLIT pU [pX] is left with none.
	// The erasure's entries, in id order: pX, and pU, whose copy of the
	// login c1 (carried by X and U) the erasure scrubbed.
	forgotten := []string{pX, pU}
	slices.Sort(forgotten)
	kept = append(kept, "8 FORGOTTEN "+forgotten[0], "9 FORGOTTEN "+forgotten[1])
	wantFeed(t, "the feed after the erasure", readFeed(t, fs, 0, nil, 100), kept)
	wantFeed(t, "after 1, one entry", readFeed(t, fs, 1, nil, 1), kept[:1])
	wantFeed(t, "after 4", readFeed(t, fs, 4, nil, 100), kept[2:])
	if h, err := fs.FeedHead(ctx); err != nil || h != 9 {
		t.Fatalf("FeedHead = %d, %v; want 9", h, err)
	}

	// A change that rolls back appends nothing.
	failing := graph.WithEventsHook(ctx, func(context.Context, graph.Tx, []graph.EventResult) error { return errors.New("refused by the hook") })
	if _, err := e.ApplyBatch(failing, []graph.Event{ev("d1", 5, user("V"))}); err == nil {
		t.Fatal("ApplyBatch with a failing hook succeeded")
	}
	if h, err := fs.FeedHead(ctx); err != nil || h != 9 {
		t.Fatalf("FeedHead after a rollback = %d, %v; want 9", h, err)
	}
	apply(t, e, ev("d2", 6, user("V")))
	pV := profileOf(t, e, user("V")).ID
	wantFeed(t, "after the rollback", readFeed(t, fs, 9, nil, 100), []string{"10 EVENT_ADDED " + pV + " d2"})

	// Bad reads.
	for _, c := range []struct {
		kinds []graph.FeedKind
		limit int
	}{{nil, 0}, {nil, graph.MaxFeedPage + 1}, {[]graph.FeedKind{"NOPE"}, 10}} {
		_, err := fs.Feed(ctx, 0, c.kinds, c.limit)
		wantCode(t, err, graph.EINVALID)
	}
	_, err := fs.TrimFeed(ctx, time.Now(), 0)
	wantCode(t, err, graph.EINVALID)

	// Trimming: nothing is older than an hour ago; everything is older
	// than an hour from now, taken two transactions at a time.
	if n, err := fs.TrimFeed(ctx, time.Now().Add(-time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("TrimFeed(an hour ago) = %d, %v; want 0", n, err)
	}
	if tr, err := fs.FeedTrimmed(ctx); err != nil || tr != 0 || graph.CheckResume(ctx, fs, 1) != nil {
		t.Fatalf("FeedTrimmed before any trim = %d, %v; want 0, and every cursor resumes", tr, err)
	}
	if n, err := fs.TrimFeed(ctx, time.Now().Add(time.Hour), 2); err != nil || n != 4 {
		t.Fatalf("TrimFeed(2 transactions) = %d, %v; want 4 entries (a1 a2, then b1 and its traits)", n, err)
	}
	// Seqs 1 to 4 are gone: a cursor at 3 would miss 4; at 4, nothing.
	if tr, err := fs.FeedTrimmed(ctx); err != nil || tr != 4 {
		t.Fatalf("FeedTrimmed after trimming = %d, %v; want 4", tr, err)
	}
	var ce *graph.CursorExpiredError
	if err := graph.CheckResume(ctx, fs, 3); !errors.As(err, &ce) || ce.After != 3 || ce.Trimmed != 4 {
		t.Errorf("CheckResume(3) = %v; want entries 4 to 4 trimmed", err)
	}
	if err := graph.CheckResume(ctx, fs, 0); !errors.As(err, &ce) || ce.After != 0 || ce.Trimmed != 4 {
		t.Errorf("CheckResume(0) = %v; want entries 1 to 4 trimmed", err)
	}
	for _, after := range []uint64{4, 10} {
		if err := graph.CheckResume(ctx, fs, after); err != nil {
			t.Errorf("CheckResume(%d) = %v; want nil", after, err)
		}
	}
	wantFeed(t, "after trimming", readFeed(t, fs, 0, nil, 100), append(append([]string(nil), kept[2:]...), "10 EVENT_ADDED "+pV+" d2"))
	if h, err := fs.FeedHead(ctx); err != nil || h != 10 {
		t.Fatalf("FeedHead after trimming = %d, %v; want 10", h, err)
	}
}

// Writers at once get consecutive Seqs, one per stored event, none twice.
func testFeedConcurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	fs := s.(graph.FeedStore)
	const writers, batches, perBatch = 4, 5, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := graph.NewEngine(s, nil)
			for b := range batches {
				var evs []graph.Event
				for i := range perBatch {
					// Writers share identifiers, so their transactions
					// contend for the same locks.
					evs = append(evs, ev(fmt.Sprintf("w%d-b%d-e%d", w, b, i), b, user(fmt.Sprintf("u%d", (w+i)%3))))
				}
				if _, err := e.ApplyBatch(ctx, evs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	es, err := fs.Feed(ctx, 0, nil, graph.MaxFeedPage)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, e := range es {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has Seq %d: Seqs are not 1, 2, 3, ...", i, e.Seq)
		}
		if e.Kind == graph.FeedEventAdded {
			if seen[e.EventID] {
				t.Fatalf("event %s is in the feed twice", e.EventID)
			}
			seen[e.EventID] = true
		}
	}
	if len(seen) != writers*batches*perBatch {
		t.Fatalf("%d events in the feed, want %d", len(seen), writers*batches*perBatch)
	}
}
