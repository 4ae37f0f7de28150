package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// The change feed of a copy run again after an erasure on the source. The
// source's feed starts with one entry per ingested event (g0 to g5, one
// transaction each, so that with --batch 1 every page the copy reads ends
// after one of them); erasing the people of g0 and g3 turns their entries
// into gaps there, Seq 1 among them, and appends the erasures' Forgotten
// entries. A target that held those entries from an earlier copy must not
// keep them when the copy runs again with --force: its feed is read back
// through the store's Feed and must hold exactly the source's entries
// (same Seqs, same content), none naming an erased profile but the
// Forgotten ones.
//
// RunAgain is the plain case: a whole copy, the erasure, the copy again.
// The copy does not delete graph records the source no longer holds, so
// there the erased profiles, identifiers and events stay on the target and
// the verification reports them; only the feed's rows are checked to match.
// FeedOfAnEarlierCopy holds the feed an earlier copy wrote (loaded through
// the record stream, as cdp copy loads it) but no graph record: the copy
// again must end with the verification's match line.
func TestCopyAgainClearsFeedGapsOfAnErasure(t *testing.T) {
	type target struct {
		flags []string
		feed  func(t *testing.T, fn func(f graph.FeedStore, s *dump.Stream)) // runs fn on the target's store
	}
	embeddedTarget := func(t *testing.T) target {
		dir := t.TempDir()
		return target{flags: []string{"--to-data-dir", dir}, feed: func(t *testing.T, fn func(graph.FeedStore, *dump.Stream)) {
			t.Helper()
			st, err := embedded.Open(dir)
			storetest.Must(t, err)
			defer st.Close(context.Background())
			s, err := dump.NewStream(st)
			storetest.Must(t, err)
			fn(st, s)
		}}
	}
	neo4jTarget := func(t *testing.T) target {
		neo := storetest.OpenNeo4j(t) // the test lock, and an empty database
		return target{flags: neo4jFlags("to"), feed: func(t *testing.T, fn func(graph.FeedStore, *dump.Stream)) {
			t.Helper()
			s, err := dump.NewStream(neo)
			storetest.Must(t, err)
			fn(neo, s)
		}}
	}
	for _, side := range []struct {
		name string
		open func(t *testing.T) target
	}{{"Embedded", embeddedTarget}, {"Neo4j", neo4jTarget}} {
		t.Run(side.name+"/RunAgain", func(t *testing.T) {
			to := side.open(t)
			src := t.TempDir()
			ingestGapSource(t, src)
			copyMust(t, 0, append([]string{"--from-data-dir", src}, to.flags...)...)
			erased := eraseForGaps(t, src)
			out := copyMust(t, -1, append([]string{"--force", "--batch", "1", "--from-data-dir", src}, to.flags...)...)
			rows := copyTable(out)
			for _, k := range []string{"feed", "feed head", "feed trimmed"} {
				if r, ok := rows[k]; !ok || r[0] != r[1] {
					t.Errorf("the verification's %s: %v, want the same on both sides\n%s", k, r, out)
				}
			}
			to.feed(t, func(f graph.FeedStore, _ *dump.Stream) { checkFeedGaps(t, src, f, erased) })
		})
		t.Run(side.name+"/FeedOfAnEarlierCopy", func(t *testing.T) {
			to := side.open(t)
			src, old := t.TempDir(), t.TempDir()
			ingestGapSource(t, src)
			copyMust(t, 0, "--from-data-dir", src, "--to-data-dir", old) // the source as it was
			erased := eraseForGaps(t, src)
			to.feed(t, func(_ graph.FeedStore, s *dump.Stream) { loadFeedOf(t, old, s) })
			out := copyMust(t, 0, append([]string{"--force", "--batch", "1", "--from-data-dir", src}, to.flags...)...)
			if !strings.Contains(out, "\nmatch: ") {
				t.Errorf("the copy's verification reports no match:\n%s", out)
			}
			to.feed(t, func(f graph.FeedStore, _ *dump.Stream) { checkFeedGaps(t, src, f, erased) })
		})
	}
}

// ingestGapSource stores the events g0 to g5 in dir, one transaction each,
// so that g0's entry is the feed's first.
func ingestGapSource(t *testing.T, dir string) {
	t.Helper()
	for i := range 6 {
		ingestEvents(t, dir, map[string][]string{fmt.Sprintf("g%d", i): {fmt.Sprintf("user_id:g%d", i)}})
	}
	st, err := embedded.Open(dir)
	storetest.Must(t, err)
	defer st.Close(context.Background())
	es, err := st.Feed(context.Background(), 0, nil, graph.MaxFeedPage)
	storetest.Must(t, err)
	if len(es) < 6 || es[0].Seq != 1 || es[0].EventID != "test/g0" {
		t.Fatalf("the source's feed: %+v, want g0's entry first, at Seq 1", es)
	}
}

// eraseForGaps erases, through the privacy eraser as the server does, the
// people of g0 (whose entry is Seq 1) and g3 in the embedded store of dir,
// and returns their profile ids.
func eraseForGaps(t *testing.T, dir string) []string {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(dir)
	storetest.Must(t, err)
	defer st.Close(ctx)
	ids, err := graphLookup(ctx, st, "user_id:g0", "user_id:g3")
	storetest.Must(t, err)
	eng := graph.NewEngine(st, nil)
	list, err := privacy.OpenSuppressionList(ctx, st)
	storetest.Must(t, err)
	x := privacy.NewEraser(eng, list)
	var erased []string
	for _, k := range []string{"user_id:g0", "user_id:g3"} {
		p := ids[k].ProfileID
		if p == "" {
			t.Fatalf("%s has no profile", k)
		}
		if _, err := x.ForgetProfile(ctx, p, "test: erasure before a copy runs again", privacy.Requester{}, nil); err != nil {
			t.Fatalf("erase %s: %v", p, err)
		}
		erased = append(erased, p)
	}
	es, err := st.Feed(ctx, 0, nil, 1)
	storetest.Must(t, err)
	if len(es) == 0 || es[0].Seq == 1 {
		t.Fatalf("the source's feed starts with %+v after the erasure, want Seq 1 a gap", es)
	}
	return erased
}

// loadFeedOf loads the feed of the embedded store of dir into s, page by
// page, as cdp copy does.
func loadFeedOf(t *testing.T, dir string, s *dump.Stream) {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(dir)
	storetest.Must(t, err)
	defer st.Close(ctx)
	from, err := dump.NewStream(st)
	storetest.Must(t, err)
	for after := ""; ; {
		b, err := from.Page(ctx, dump.Feed, after, 1000)
		storetest.Must(t, err)
		storetest.Must(t, s.Load(ctx, b))
		if b.Next == "" {
			return
		}
		after = b.Next
	}
}

// checkFeedGaps compares the target's feed f with the source's (the
// embedded store of dir), entry by entry, and checks that no entry names
// an erased profile but the erasures' Forgotten ones.
func checkFeedGaps(t *testing.T, dir string, f graph.FeedStore, erased []string) {
	t.Helper()
	ctx := context.Background()
	render := func(es []graph.FeedEntry) (out []string) {
		for _, e := range es {
			out = append(out, fmt.Sprintf("%d %s %s %s %v %s %s", e.Seq, e.At.UTC().Format("15:04:05.000000000"), e.Kind,
				e.ProfileID, e.PreviousIDs, e.EventID, e.AudienceID))
		}
		return out
	}
	st, err := embedded.Open(dir)
	storetest.Must(t, err)
	want, err := st.Feed(ctx, 0, nil, graph.MaxFeedPage)
	st.Close(ctx)
	storetest.Must(t, err)
	got, err := f.Feed(ctx, 0, nil, graph.MaxFeedPage)
	storetest.Must(t, err)
	for _, e := range got {
		if e.Kind == graph.FeedForgotten {
			continue
		}
		if slices.Contains(erased, e.ProfileID) || slices.ContainsFunc(e.PreviousIDs, func(p string) bool { return slices.Contains(erased, p) }) {
			t.Errorf("the target's feed keeps entry %d (%s %s %s) of an erased profile", e.Seq, e.Kind, e.ProfileID, e.EventID)
		}
	}
	if g, w := render(got), render(want); !slices.Equal(g, w) {
		t.Errorf("the target's feed differs from the source's:\n got  %q\n want %q", g, w)
	}
}

// copyMust runs cdp copy and fails the test unless it exits with code
// (any code when code is -1); it returns the standard output.
func copyMust(t *testing.T, code int, args ...string) string {
	t.Helper()
	out, errOut, got := copyRun(t, args...)
	if code >= 0 && got != code {
		t.Fatalf("cdp copy %v: exit %d, want %d\n%s\n%s", args, got, code, out, errOut)
	}
	return out
}
