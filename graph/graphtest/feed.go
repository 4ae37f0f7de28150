package graphtest

import (
	"context"
	"errors"
	"fmt"
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
	t.Run("TraitsUnchanged", func(t *testing.T) { testFeedTraitsUnchanged(t, open) })
	t.Run("ErasedEvents", func(t *testing.T) { testFeedErasedEvents(t, open) })
	t.Run("TrimInSeqOrder", func(t *testing.T) { testFeedTrimInSeqOrder(t, open) })
}

// testFeedTrimInSeqOrder: entries are not dated in Seq order (a
// transaction's time is when it started, its Seqs when it committed).
// TrimFeed stops at the first entry that is not old enough, so that the
// trimmed mark never passes an entry still kept: a reader resuming from it
// would skip that entry.
func testFeedTrimInSeqOrder(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	fs, ok := s.(graph.FeedStore)
	if !ok {
		t.Skip("the store keeps no feed")
	}
	put := func(at time.Time, pid string) {
		t.Helper()
		if err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			return graph.AppendFeed(ctx, tx, []graph.FeedEntry{{At: at, Kind: graph.FeedForgotten, ProfileID: pid}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	put(t0.Add(2*time.Hour), "p_young") // Seq 1
	put(t0, "p_old")                    // Seq 2, dated before Seq 1
	put(t0.Add(-time.Hour), "p_older")  // Seq 3
	ids := func() []string {
		t.Helper()
		es, err := fs.Feed(ctx, 0, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, e := range es {
			out = append(out, fmt.Sprintf("%d %s", e.Seq, e.ProfileID))
		}
		return out
	}
	// Seq 1 is not older than t0 + 1h: nothing goes, and every cursor
	// resumes.
	if n, err := fs.TrimFeed(ctx, t0.Add(time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("TrimFeed(t0 + 1h) = %d, %v; want 0 (Seq 1 is younger)", n, err)
	}
	if tr, err := fs.FeedTrimmed(ctx); err != nil || tr != 0 || graph.CheckResume(ctx, fs, 0) != nil {
		t.Fatalf("FeedTrimmed = %d, %v; want 0, and a cursor at 0 resumes", tr, err)
	}
	if got, want := ids(), []string{"1 p_young", "2 p_old", "3 p_older"}; !slices.Equal(got, want) {
		t.Fatalf("feed = %v, want %v", got, want)
	}
	// Once Seq 1 is old enough, the three go, two transactions at a time.
	if n, err := fs.TrimFeed(ctx, t0.Add(3*time.Hour), 2); err != nil || n != 2 {
		t.Fatalf("TrimFeed(t0 + 3h, 2) = %d, %v; want 2 (Seqs 1 and 2)", n, err)
	}
	if tr, err := fs.FeedTrimmed(ctx); err != nil || tr != 2 {
		t.Fatalf("FeedTrimmed = %d, %v; want 2", tr, err)
	}
	if got, want := ids(), []string{"3 p_older"}; !slices.Equal(got, want) {
		t.Fatalf("feed = %v, want %v", got, want)
	}
}

// testFeedTraitsUnchanged: TRAITS_CHANGED is written when an event changes
// what an identifier holds (a value, its source or its times), not when
// its traits change nothing: an older value than the stored one, or the
// same value from the same source at the same time, received at the same
// time (a copy under another message id). The stored traits stay as they
// were.
func testFeedTraitsUnchanged(t *testing.T, open Opener) {
	ctx := context.Background()
	fs, e := openFeed(t, open)
	identify := func(id string, minute int, traits map[string]any) graph.Event {
		x := ev(id, minute, user("U"))
		x.Type, x.Traits, x.ReceivedAt = "identify", traits, at(60)
		return x
	}
	apply(t, e, identify("i1", 5, map[string]any{"plan": "pro", "seats": int64(3)}))
	p := profileOf(t, e, user("U")).ID
	// Older than what is stored: both values lose.
	apply(t, e, identify("i2", 4, map[string]any{"plan": "free", "seats": int64(1)}))
	// The first identify again under another id, in a batch of its own
	// and beside an event that changes nothing else.
	apply(t, e, identify("i3", 5, map[string]any{"plan": "pro"}))
	apply(t, e, identify("i4", 5, map[string]any{"seats": int64(3)}), ev("t1", 6, user("U")))
	// A newer time for the same value is a change: the trait's time moves.
	apply(t, e, identify("i5", 7, map[string]any{"plan": "pro"}))
	want := []string{
		"1 EVENT_ADDED " + p + " i1",
		"2 TRAITS_CHANGED " + p,
		"3 EVENT_ADDED " + p + " i2",
		"4 EVENT_ADDED " + p + " i3",
		"5 EVENT_ADDED " + p + " i4",
		"6 EVENT_ADDED " + p + " t1",
		"7 EVENT_ADDED " + p + " i5",
		"8 TRAITS_CHANGED " + p,
	}
	wantFeed(t, "the feed", readFeed(t, fs, 0, nil, 100), want)
	ms, err := e.Members(ctx, []string{p})
	if err != nil || len(ms[p]) != 1 {
		t.Fatalf("Members(%s) = %v, %v; want the user id alone", p, ms, err)
	}
	tr := ms[p][0].Traits
	if tr["plan"].Value != "pro" || !tr["plan"].At.Equal(at(7)) || tr["seats"].Value != int64(3) || !tr["seats"].At.Equal(at(5)) {
		t.Fatalf("traits %+v; want plan pro at minute 7, seats 3 at minute 5", tr)
	}
}

// feedLoader is what loads a copy's feed (dump.FeedWriter.LoadFeed).
type feedLoader interface {
	graph.FeedStore
	LoadFeed(ctx context.Context, from, to uint64, entries []graph.FeedEntry) error
}

// testFeedLoadOverlap: copied entries loaded again (dump.FeedWriter.LoadFeed,
// as a copy run again with --force does) replace the entries of the range
// of Seqs they are loaded over, whatever the runs that stored them before:
// a run that starts or ends at another Seq, or runs split otherwise. A Seq
// of the range that no loaded entry has is a gap afterwards (the source
// redacted or trimmed it), at the range's start, inside it, at its end, or
// over a whole range loaded without entries; the head rises to the range's
// end. Each Seq held is read back once, with the content loaded last; a
// stored run that reaches out of a loaded range keeps its entries outside
// it, with their time.
func testFeedLoadOverlap(t *testing.T, open Opener) {
	// A load is one LoadFeed call over [from, to] of runs [first, last];
	// a run's entries share a time, at(10*load + run) (loads from 1, runs
	// from 0), which differs from run to run and from load to load, so
	// that graph.FeedRuns keeps the runs apart.
	type load struct {
		from, to int
		runs     [][2]int
	}
	// held: Seqs first to last hold the entries of run run of load load.
	// Every Seq in no held range is a gap. Worked out by hand.
	type held struct{ first, last, load, run int }
	for _, c := range []struct {
		name  string
		loads []load
		want  []held
		head  uint64
	}{
		{"RunStartsLater", []load{{1, 10, [][2]int{{1, 10}}}, {2, 10, [][2]int{{2, 10}}}},
			[]held{{1, 1, 1, 0}, {2, 10, 2, 0}}, 10},
		{"RunEndsEarlier", []load{{1, 10, [][2]int{{1, 10}}}, {1, 9, [][2]int{{1, 9}}}},
			[]held{{1, 9, 2, 0}, {10, 10, 1, 0}}, 10},
		{"OneRunThenTwo", []load{{1, 10, [][2]int{{1, 10}}}, {1, 10, [][2]int{{1, 4}, {5, 10}}}},
			[]held{{1, 4, 2, 0}, {5, 10, 2, 1}}, 10},
		{"TwoRunsThenOne", []load{{1, 10, [][2]int{{1, 4}, {5, 10}}}, {1, 10, [][2]int{{1, 10}}}},
			[]held{{1, 10, 2, 0}}, 10},
		{"InsideOneRun", []load{{1, 10, [][2]int{{1, 10}}}, {4, 6, [][2]int{{4, 6}}}},
			[]held{{1, 3, 1, 0}, {4, 6, 2, 0}, {7, 10, 1, 0}}, 10},
		{"AcrossTwoRuns", []load{{1, 10, [][2]int{{1, 4}, {5, 10}}}, {3, 7, [][2]int{{3, 7}}}},
			[]held{{1, 2, 1, 0}, {3, 7, 2, 0}, {8, 10, 1, 1}}, 10},
		{"AcrossMany", []load{{1, 10, [][2]int{{1, 3}, {4, 6}, {7, 9}, {10, 10}}}, {2, 8, [][2]int{{2, 8}}},
			{1, 10, [][2]int{{1, 5}, {6, 10}}}},
			[]held{{1, 5, 3, 0}, {6, 10, 3, 1}}, 10},
		// Entry 5 was redacted on the source: loaded again over 1 to 10
		// without it, the old entry 5 goes.
		{"GapInside", []load{{1, 10, [][2]int{{1, 10}}}, {1, 10, [][2]int{{1, 4}, {6, 10}}}},
			[]held{{1, 4, 2, 0}, {6, 10, 2, 1}}, 10},
		// Entry 1, the first of the feed, was redacted.
		{"GapAtStart", []load{{1, 10, [][2]int{{1, 10}}}, {1, 10, [][2]int{{2, 10}}}},
			[]held{{2, 10, 2, 0}}, 10},
		// Entry 5, the first Seq of a later page: the page after 1 to 4
		// covers 5 to 10 and holds 6 to 10.
		{"GapAtStartOfLaterRange", []load{{1, 10, [][2]int{{1, 10}}}, {1, 4, [][2]int{{1, 4}}}, {5, 10, [][2]int{{6, 10}}}},
			[]held{{1, 4, 2, 0}, {6, 10, 3, 0}}, 10},
		// Entries 9 and 10 were redacted, and the source's head is 12
		// (its entries 11 and 12 redacted too, say): the last page covers
		// up to the head.
		{"GapAtEnd", []load{{1, 10, [][2]int{{1, 10}}}, {1, 12, [][2]int{{1, 8}}}},
			[]held{{1, 8, 2, 0}}, 12},
		// A range with no entries at all: the stored run 1 to 10 keeps
		// 1 to 3 and 7 to 10, with its time.
		{"EmptyRange", []load{{1, 10, [][2]int{{1, 10}}}, {4, 6, nil}},
			[]held{{1, 3, 1, 0}, {7, 10, 1, 0}}, 10},
		// An empty range past the stored entries: nothing goes, the head
		// rises to its end.
		{"EmptyRangePastHead", []load{{1, 5, [][2]int{{1, 5}}}, {8, 12, nil}},
			[]held{{1, 5, 1, 0}}, 12},
		// Gaps across stored runs of 3: 2, 5 to 7 and 9 go; 1 and 10,
		// outside the range, stay as they were.
		{"GapsAcrossRuns", []load{{1, 10, [][2]int{{1, 3}, {4, 6}, {7, 9}, {10, 10}}}, {2, 9, [][2]int{{3, 4}, {8, 8}}}},
			[]held{{1, 1, 1, 0}, {3, 4, 2, 0}, {8, 8, 2, 1}, {10, 10, 1, 3}}, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			fs, ok := s.(feedLoader)
			if !ok {
				t.Fatalf("%T cannot load a copy's feed", s)
			}
			entry := func(seq, l, r int) graph.FeedEntry {
				return graph.FeedEntry{Seq: uint64(seq), At: at(10*l + r), Kind: graph.FeedEventAdded,
					ProfileID: fmt.Sprintf("p%d", seq), EventID: fmt.Sprintf("e%d-load%d", seq, l)}
			}
			render := func(e graph.FeedEntry) string {
				return fmt.Sprintf("%d %s %s %s", e.Seq, e.ProfileID, e.EventID, e.At.Format(time.TimeOnly))
			}
			for i, ld := range c.loads {
				var es []graph.FeedEntry
				for r, run := range ld.runs {
					for seq := run[0]; seq <= run[1]; seq++ {
						es = append(es, entry(seq, i+1, r))
					}
				}
				if err := fs.LoadFeed(ctx, uint64(ld.from), uint64(ld.to), es); err != nil {
					t.Fatalf("load %d: %v", i+1, err)
				}
			}
			var want []string
			var seqs []uint64
			for _, h := range c.want {
				for seq := h.first; seq <= h.last; seq++ {
					want = append(want, render(entry(seq, h.load, h.run)))
					seqs = append(seqs, uint64(seq))
				}
			}
			// Read after every cursor, gaps and the head included.
			for after := uint64(0); after <= c.head; after++ {
				es, err := fs.Feed(ctx, after, nil, graph.MaxFeedPage)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]string, len(es))
				for j, e := range es {
					got[j] = render(e)
				}
				i, _ := slices.BinarySearch(seqs, after+1)
				wantFeed(t, fmt.Sprintf("the feed after %d, once %v are loaded", after, c.loads), got, want[i:])
			}
			if h, err := fs.FeedHead(ctx); err != nil || h != c.head {
				t.Fatalf("FeedHead = %d, %v; want %d", h, err, c.head)
			}
		})
	}
	t.Run("BadRange", func(t *testing.T) {
		ctx := context.Background()
		s := open(t)
		fs, ok := s.(feedLoader)
		if !ok {
			t.Fatalf("%T cannot load a copy's feed", s)
		}
		e := func(seq uint64) graph.FeedEntry {
			return graph.FeedEntry{Seq: seq, At: at(1), Kind: graph.FeedEventAdded, ProfileID: fmt.Sprintf("p%d", seq)}
		}
		if err := fs.LoadFeed(ctx, 1, 3, []graph.FeedEntry{e(1), e(2), e(3)}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name     string
			from, to uint64
			es       []graph.FeedEntry
		}{
			{"FromZero", 0, 3, []graph.FeedEntry{e(1)}},
			{"FromAfterTo", 3, 2, nil},
			{"EntryBeforeFrom", 2, 3, []graph.FeedEntry{e(1), e(2)}},
			{"EntryAfterTo", 1, 2, []graph.FeedEntry{e(2), e(3)}},
			{"SeqsNotGrowing", 1, 3, []graph.FeedEntry{e(2), e(2)}},
		} {
			if err := fs.LoadFeed(ctx, c.from, c.to, c.es); graph.ErrorCode(err) != graph.EINVALID {
				t.Errorf("%s: LoadFeed(%d, %d) = %v, want EINVALID", c.name, c.from, c.to, err)
			}
		}
		wantFeed(t, "the feed after refused loads", readFeed(t, fs, 0, nil, 10),
			[]string{"1 EVENT_ADDED p1", "2 EVENT_ADDED p2", "3 EVENT_ADDED p3"})
		if h, err := fs.FeedHead(ctx); err != nil || h != 3 {
			t.Fatalf("FeedHead after refused loads = %d, %v; want 3", h, err)
		}
	})
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

// openFeed opens a store that keeps a feed, and an engine on it.
func openFeed(t *testing.T, open Opener) (graph.FeedStore, *graph.Engine) {
	t.Helper()
	s := open(t)
	fs, ok := s.(graph.FeedStore)
	if !ok {
		t.Fatalf("%T keeps no feed", s)
	}
	return fs, graph.NewEngine(s, nil)
}

func testFeedEntries(t *testing.T, open Opener) {
	ctx := context.Background()
	fs, e := openFeed(t, open)
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

// An erasure deletes the events only the erased identifiers carried, and
// their EVENT_ADDED entries become gaps with them, whatever profile the
// entries name: a profile that stays (the event was stored while the
// erased visitor was merged into it, or the erasure forgot one
// identifier of it) keeps no entry pointing at an event that is gone.
// The shared events are scrubbed, not deleted: their entries stay.
func testFeedErasedEvents(t *testing.T, open Opener) {
	ctx := context.Background()
	fs, e := openFeed(t, open)
	apply(t, e, ev("a1", 1, anon("X")))
	pX := profileOf(t, e, anon("X")).ID
	apply(t, e, ev("b1", 2, user("U"), device("D")))
	pU := profileOf(t, e, user("U")).ID
	// The visitor logs in: U's profile, the larger, survives.
	if res := apply(t, e, ev("c1", 3, anon("X"), user("U"))); len(res.Merged) != 1 || res.Merged[0] != pX {
		t.Fatalf("the login merged %v, want [%s]", res.Merged, pX)
	}
	// The visitor browses alone, while merged into U's profile.
	apply(t, e, ev("x2", 4, anon("X")))
	if _, err := e.UnlinkIdentifiers(ctx, anon("X"), user("U"), "shared laptop"); err != nil {
		t.Fatal(err)
	}
	if got := profileOf(t, e, anon("X")).ID; got != pX {
		t.Fatalf("after the split the visitor is in %s, want its own profile %s back", got, pX)
	}
	wantFeed(t, "before the erasures", readFeed(t, fs, 0, nil, 100), []string{
		"1 EVENT_ADDED " + pX + " a1",
		"2 EVENT_ADDED " + pU + " b1",
		"3 MERGED " + pU + " [" + pX + "]",
		"4 EVENT_ADDED " + pU + " c1",
		"5 EVENT_ADDED " + pU + " x2",
		"6 SPLIT " + pX + " [" + pU + "]",
	})

	// The visitor is erased: a1 and x2, which X alone carried, are
	// deleted; c1, shared with U, is scrubbed and stays.
	if _, err := e.ForgetProfile(ctx, pX, "erasure request", nil); err != nil {
		t.Fatal(err)
	}
	forgotten := []string{pX, pU}
	slices.Sort(forgotten)
	want := []string{
		"2 EVENT_ADDED " + pU + " b1",
		"4 EVENT_ADDED " + pU + " c1",
		"7 FORGOTTEN " + forgotten[0],
		"8 FORGOTTEN " + forgotten[1],
	}
	wantFeed(t, "after the visitor's erasure", readFeed(t, fs, 0, nil, 100), want)

	// One identifier of U's profile is forgotten: d2, which the email
	// alone carried, is deleted; d1, shared with U, stays.
	apply(t, e, ev("d1", 5, user("U"), email("u@example.com")))
	apply(t, e, ev("d2", 6, email("u@example.com")))
	if _, err := e.ForgetIdentifier(ctx, email("u@example.com"), "erasure request", nil); err != nil {
		t.Fatal(err)
	}
	want = append(want, "9 EVENT_ADDED "+pU+" d1", "11 FORGOTTEN "+pU)
	wantFeed(t, "after the email's erasure", readFeed(t, fs, 0, nil, 100), want)
	wantFeed(t, "events after 4", readFeed(t, fs, 4, []graph.FeedKind{graph.FeedEventAdded}, 100), []string{"9 EVENT_ADDED " + pU + " d1"})
	if h, err := fs.FeedHead(ctx); err != nil || h != 11 {
		t.Fatalf("FeedHead = %d, %v; want 11", h, err)
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
