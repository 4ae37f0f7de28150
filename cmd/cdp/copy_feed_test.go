package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
)

// TestCopyKeepsTheFeedsMarks: a source whose retention trimmed its whole
// feed still has a head (3 entries were written) and a trimmed mark; the
// copy gives the target both, so its next entry is the 4th, a cursor at 1
// is refused as older than the retention, and the verification compares
// them.
func TestCopyKeepsTheFeedsMarks(t *testing.T) {
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	for i := range 3 {
		ingestEvents(t, dirA, map[string][]string{fmt.Sprintf("f%d", i): {fmt.Sprintf("user_id:f%d", i)}})
	}
	st, err := embedded.Open(dirA)
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.TrimFeed(ctx, time.Now().Add(24*time.Hour), 100)
	st.Close(ctx)
	if err != nil || n != 3 {
		t.Fatalf("trimmed %d entries (%v), want 3", n, err)
	}
	out, errOut, code := copyRun(t, "--from-data-dir", dirA, "--to-data-dir", dirB)
	if code != 0 || copyTable(out)["feed head"] != [2]string{"3", "3"} || copyTable(out)["feed trimmed"] != [2]string{"3", "3"} {
		t.Fatalf("copy: exit %d\n%s\n%s", code, out, errOut)
	}
	stB, err := embedded.Open(dirB)
	if err != nil {
		t.Fatal(err)
	}
	defer stB.Close(ctx)
	if err := graph.CheckResume(ctx, stB, 1); err == nil {
		t.Error("the target resumes a cursor older than the source's retention")
	}
	res, err := graph.NewEngine(stB, nil).ApplyBatch(ctx, []graph.Event{{ID: "test/new", MessageID: "new", Type: "identify", Source: "test",
		Timestamp: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC), Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "new"}}}})
	if err != nil || res.Stored != 1 {
		t.Fatalf("ingest on the target: %+v %v", res, err)
	}
	es, err := stB.Feed(ctx, 0, nil, graph.MaxFeedPage)
	if err != nil || len(es) != 1 || es[0].Seq != 4 {
		t.Fatalf("the target's feed after a new event: %+v (%v), want one entry, Seq 4", es, err)
	}
}

// TestCopyAgainWithAnotherBatchSize: a feed of one transaction's 10
// entries, copied with pages of 3 and then again, --force, with pages of
// 1000, holds each entry once.
func TestCopyAgainWithAnotherBatchSize(t *testing.T) {
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	evs := map[string][]string{}
	for i := range 10 {
		evs[fmt.Sprintf("r%d", i)] = []string{fmt.Sprintf("user_id:r%d", i)}
	}
	ingestEvents(t, dirA, evs)
	for _, args := range [][]string{{"--batch", "3"}, {"--force", "--batch", "1000"}} {
		out, errOut, code := copyRun(t, append(args, "--from-data-dir", dirA, "--to-data-dir", dirB)...)
		if code != 0 || copyTable(out)["feed"] != [2]string{"10", "10"} {
			t.Fatalf("copy %v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	st, err := embedded.Open(dirB)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	es, err := st.Feed(ctx, 0, nil, graph.MaxFeedPage)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, e := range es {
		seqs = append(seqs, e.Seq)
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5 6 7 8 9 10]" {
		t.Fatalf("the target's feed holds Seqs %v, want 1 to 10 once each", seqs)
	}
}
