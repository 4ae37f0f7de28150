// Package destinationtest is the conformance suite of destination.Store:
// every store runs it (graph/embedded and graph/neo4jstore, through
// internal/storetest) against a real database. Expectations are written
// out by hand from what the test sends, never read back from what a store
// wrote.
package destinationtest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

var (
	must     = storetest.Must
	wantCode = storetest.WantCode
)

// Store is what a store under test must be.
type Store interface {
	graph.Store
	graph.FeedStore
	destination.Store
	audience.Store
}

// sentAudience is the audience the destinations of dest send, which
// every test's store holds: a store refuses a destination that names an
// audience it does not hold.
var sentAudience = "seg_" + fmt.Sprintf("%032x", 7)

// Run runs the suite; open returns a fresh, empty store for one test.
func Run(t *testing.T, open func(t *testing.T) graph.Store) {
	as := storetest.As[Store](open)
	get := func(t *testing.T) Store {
		s := as(t)
		must(t, s.PutAudience(context.Background(), audience.Audience{ID: sentAudience, Name: "sent", Static: true, CreatedAt: at(0), UpdatedAt: at(0)}))
		return s
	}
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, get(t)) })
	t.Run("Keep", func(t *testing.T) { testKeep(t, get(t)) })
	t.Run("UpdateSameMicrosecond", func(t *testing.T) { testUpdateSameMicrosecond(t, get(t)) })
	t.Run("Input", func(t *testing.T) { testInput(t, get(t)) })
	t.Run("StoredNames", func(t *testing.T) { testStoredNames(t, get(t)) })
	t.Run("Page", func(t *testing.T) { testPage(t, get(t)) })
	t.Run("Limit", func(t *testing.T) { testLimit(t, get(t)) })
	t.Run("Lease", func(t *testing.T) { testLease(t, get(t)) })
	t.Run("LeaseRace", func(t *testing.T) { testLeaseRace(t, get(t)) })
	t.Run("Batches", func(t *testing.T) { testBatches(t, get(t)) })
	t.Run("Replay", func(t *testing.T) { testReplay(t, get(t)) })
	t.Run("RetryNow", func(t *testing.T) { testRetryNow(t, get(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, get(t)) })
	t.Run("Redact", func(t *testing.T) { testRedact(t, get(t)) })
	t.Run("Prune", func(t *testing.T) { testPrune(t, get(t)) })
	t.Run("LoadNumbers", func(t *testing.T) { testLoadNumbers(t, get(t)) })
	t.Run("TakeAfterErasure", func(t *testing.T) { testTakeAfterErasure(t, get(t)) })
	t.Run("TakeRacingErasure", func(t *testing.T) { testTakeRacingErasure(t, get(t)) })
	t.Run("AudienceRefs", func(t *testing.T) { testAudienceRefs(t, get(t)) })
	t.Run("AudienceRace", func(t *testing.T) { testAudienceRace(t, get(t)) })
}

var t0 = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

func at(seconds int) time.Time { return t0.Add(time.Duration(seconds) * time.Second) }

func id(n int) string { return fmt.Sprintf("dst_%032x", n) }

func dest(n int) destination.Destination {
	return destination.Destination{ID: id(n), Name: fmt.Sprintf("crm %d", n), URL: "https://hooks.example.com/cdp",
		Secret: "s3cret-s3cret-s3cret", Kinds: []graph.FeedKind{graph.FeedMerged, graph.FeedEventAdded},
		AudienceIDs: []string{sentAudience}, Purpose: "marketing", BatchSize: 50, MaxAttempts: 5,
		Headers: map[string]string{"Authorization": "Bearer x"}, IncludePII: true, CreatedAt: at(0), UpdatedAt: at(0)}
}

// appendFeed appends n EVENT_ADDED entries for profile p in one
// transaction.
func appendFeed(t *testing.T, s Store, p string, n int) {
	t.Helper()
	es := make([]graph.FeedEntry, n)
	for i := range es {
		es[i] = graph.FeedEntry{At: at(1), Kind: graph.FeedEventAdded, ProfileID: p, EventID: fmt.Sprintf("web/m%d", i)}
	}
	must(t, s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		return graph.AppendFeed(ctx, tx, es)
	}))
}

func sameDef(t *testing.T, what string, got, want destination.Destination) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.URL != want.URL || got.Secret != want.Secret ||
		!slices.Equal(got.Kinds, want.Kinds) || !slices.Equal(got.AudienceIDs, want.AudienceIDs) ||
		got.Purpose != want.Purpose || got.BatchSize != want.BatchSize || got.MaxAttempts != want.MaxAttempts ||
		!maps.Equal(got.Headers, want.Headers) || got.IncludePII != want.IncludePII ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("%s: got %+v\nwant %+v", what, got, want)
	}
}

func testRoundTrip(t *testing.T, s Store) {
	ctx := context.Background()
	appendFeed(t, s, "p1", 3)
	d := dest(1)
	got, err := s.CreateDestination(ctx, d)
	must(t, err)
	// Kinds come back sorted; the cursor starts at the head, 3.
	want := d
	want.Kinds = []graph.FeedKind{graph.FeedEventAdded, graph.FeedMerged}
	sameDef(t, "created", got, want)
	if got.Cursor != 3 {
		t.Fatalf("a destination created after 3 entries starts at cursor %d, want 3", got.Cursor)
	}
	read, err := s.Destination(ctx, d.ID)
	must(t, err)
	sameDef(t, "read back", read, want)
	if read.Cursor != 3 || read.Lease.Holder != "" {
		t.Fatalf("read back cursor %d lease %+v, want 3 and none", read.Cursor, read.Lease)
	}
	_, err = s.CreateDestination(ctx, d)
	wantCode(t, err, graph.ECONFLICT, "create twice")

	// An update replaces the definition and keeps createdAt and cursor.
	appendFeed(t, s, "p1", 2)
	u := destination.Destination{ID: d.ID, Name: "renamed", URL: "http://other.example.com/x", Secret: "another-secret-0123",
		BatchSize: 0, MaxAttempts: 0, CreatedAt: at(99), UpdatedAt: at(60)}
	got, err = s.UpdateDestination(ctx, u)
	must(t, err)
	wantU := destination.Destination{ID: d.ID, Name: "renamed", URL: "http://other.example.com/x", Secret: "another-secret-0123",
		BatchSize: destination.DefaultBatchSize, MaxAttempts: destination.DefaultMaxAttempts, CreatedAt: at(0), UpdatedAt: at(60)}
	sameDef(t, "updated", got, wantU)
	read, err = s.Destination(ctx, d.ID)
	must(t, err)
	sameDef(t, "updated, read back", read, wantU)
	if read.Cursor != 3 {
		t.Fatalf("an update moved the cursor to %d, want 3", read.Cursor)
	}
	u.ID = id(2)
	_, err = s.UpdateDestination(ctx, u)
	wantCode(t, err, graph.ENOTFOUND, "update of a destination not stored")
	_, err = s.Destination(ctx, id(2))
	wantCode(t, err, graph.ENOTFOUND, "read of a destination not stored")
}

func testInput(t *testing.T, s Store) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		edit func(d *destination.Destination)
	}{
		{"id", func(d *destination.Destination) { d.ID = "dst_1" }},
		{"name", func(d *destination.Destination) { d.Name = "" }},
		{"name", func(d *destination.Destination) { d.Name = "crm\x1b[2J" }},
		{"name", func(d *destination.Destination) { d.Name = "crm\u009b2J" }},
		{"name", func(d *destination.Destination) { d.Name = "crm\u0085two" }},
		{"url", func(d *destination.Destination) { d.URL = "ftp://example.com/" }},
		{"secret", func(d *destination.Destination) { d.Secret = "short" }},
		{"kinds[0]", func(d *destination.Destination) { d.Kinds = []graph.FeedKind{"NOPE"} }},
		{"audienceIds[0]", func(d *destination.Destination) { d.AudienceIDs = []string{"x"} }},
		{"purpose", func(d *destination.Destination) { d.Purpose = "Bad Purpose" }},
		{"batchSize", func(d *destination.Destination) { d.BatchSize = destination.MaxBatchSize + 1 }},
		{"maxAttempts", func(d *destination.Destination) { d.MaxAttempts = -1 }},
		{"headers", func(d *destination.Destination) { d.Headers = map[string]string{"X-CDP-Signature": "forged"} }},
	} {
		d := dest(1)
		c.edit(&d)
		_, err := s.CreateDestination(ctx, d)
		wantCode(t, err, graph.EINVALID, c.name)
		if msg := err.Error(); !containsWord(msg, c.name) {
			t.Errorf("%s: error %q does not name the field", c.name, msg)
		}
		if d.Secret != "" && containsWord(err.Error(), d.Secret) {
			t.Errorf("%s: error %q repeats the secret", c.name, err)
		}
	}
	page, err := s.DestinationPage(ctx, "", 10)
	must(t, err)
	if len(page) != 0 {
		t.Fatalf("refused destinations were stored: %d", len(page))
	}
	_, err = s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(1), Limit: 10})
	wantCode(t, err, graph.ENOTFOUND, "deliveries of a destination not stored")
	_, err = s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(1), Limit: 0})
	wantCode(t, err, graph.EINVALID, "deliveries with limit 0")
}

func containsWord(s, w string) bool {
	return len(w) > 0 && len(s) >= len(w) && slices.ContainsFunc(indexes(s, len(w)), func(i int) bool { return s[i:i+len(w)] == w })
}

func indexes(s string, n int) []int {
	out := make([]int, 0, len(s))
	for i := 0; i+n <= len(s); i++ {
		out = append(out, i)
	}
	return out
}

func testPage(t *testing.T, s Store) {
	ctx := context.Background()
	for _, n := range []int{5, 1, 3, 4, 2} {
		_, err := s.CreateDestination(ctx, dest(n))
		must(t, err)
	}
	var got []string
	after := ""
	for {
		page, err := s.DestinationPage(ctx, after, 2)
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, d := range page {
			got = append(got, d.ID)
		}
		after = page[len(page)-1].ID
	}
	if want := []string{id(1), id(2), id(3), id(4), id(5)}; !slices.Equal(got, want) {
		t.Fatalf("pages of 2 gave %v, want %v", got, want)
	}
}

// testLimit creates destinations up to MaxDestinations, the last ones
// concurrently, as replicas would: 96 one after the other, then 12 at
// once, of which 4 are stored and 8 refused, and no 101st after them.
func testLimit(t *testing.T, s Store) {
	ctx := context.Background()
	const first, racing = destination.MaxDestinations - 4, 12
	for n := 1; n <= first; n++ {
		_, err := s.CreateDestination(ctx, dest(n))
		must(t, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, racing)
	for i := range racing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.CreateDestination(ctx, dest(1000+i))
		}()
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		if err == nil {
			created++
			continue
		}
		wantCode(t, err, graph.ECONFLICT, "a destination past the most there may be")
	}
	stored, err := s.DestinationPage(ctx, "", destination.MaxListPage)
	must(t, err)
	if created != 4 || len(stored) != destination.MaxDestinations {
		t.Fatalf("%d of %d racing creations after %d were stored, %d destinations in all; want 4 and %d",
			created, racing, first, len(stored), destination.MaxDestinations)
	}
	_, err = s.CreateDestination(ctx, dest(2000))
	wantCode(t, err, graph.ECONFLICT, "the 101st destination")
}

func testLease(t *testing.T, s Store) {
	ctx := context.Background()
	_, err := s.CreateDestination(ctx, dest(1))
	must(t, err)
	l, ok, err := s.AcquireLease(ctx, id(1), "a", at(0), 30*time.Second)
	must(t, err)
	if !ok || l.Holder != "a" || !l.Expires.Equal(at(30)) {
		t.Fatalf("free lease: got %+v held %v, want a until +30s", l, ok)
	}
	l, ok, err = s.AcquireLease(ctx, id(1), "b", at(10), 30*time.Second)
	must(t, err)
	if ok || l.Holder != "a" || !l.Expires.Equal(at(30)) {
		t.Fatalf("lease held by a: b got %+v held %v, want a's lease, not held", l, ok)
	}
	// a renews.
	l, ok, err = s.AcquireLease(ctx, id(1), "a", at(20), 30*time.Second)
	must(t, err)
	if !ok || !l.Expires.Equal(at(50)) {
		t.Fatalf("renewal: got %+v held %v, want a until +50s", l, ok)
	}
	// Once a's lease expires (a died), b takes it.
	l, ok, err = s.AcquireLease(ctx, id(1), "b", at(50), 30*time.Second)
	must(t, err)
	if !ok || l.Holder != "b" || !l.Expires.Equal(at(80)) {
		t.Fatalf("expired lease: b got %+v held %v, want b until +80s", l, ok)
	}
	// a cannot work under b's lease.
	_, _, err = s.TakeBatch(ctx, id(1), "a", 0, 0, nil, at(51))
	wantCode(t, err, graph.ECONFLICT, "TakeBatch without the lease")
	// Releasing by someone else does nothing; by b frees it.
	must(t, s.ReleaseLease(ctx, id(1), "a"))
	if _, ok, _ = s.AcquireLease(ctx, id(1), "c", at(52), time.Second); ok {
		t.Fatal("a released b's lease")
	}
	must(t, s.ReleaseLease(ctx, id(1), "b"))
	if _, ok, _ = s.AcquireLease(ctx, id(1), "c", at(52), time.Second); !ok {
		t.Fatal("c did not get the lease b released")
	}
	_, _, err = s.AcquireLease(ctx, id(2), "a", at(0), time.Second)
	wantCode(t, err, graph.ENOTFOUND, "lease on a destination not stored")
}

func testLeaseRace(t *testing.T, s Store) {
	ctx := context.Background()
	_, err := s.CreateDestination(ctx, dest(1))
	must(t, err)
	const n = 8
	var wg sync.WaitGroup
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, won[i], errs[i] = s.AcquireLease(ctx, id(1), fmt.Sprintf("p%d", i), at(0), time.Minute)
		}()
	}
	wg.Wait()
	winners := 0
	for i := range n {
		must(t, errs[i])
		if won[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d processes racing for a free lease got it, want 1", winners, n)
	}
}

func entries(from, to uint64) []graph.FeedEntry {
	var out []graph.FeedEntry
	for s := from; s <= to; s++ {
		out = append(out, graph.FeedEntry{Seq: s, At: at(1), Kind: graph.FeedEventAdded, ProfileID: "p1", EventID: fmt.Sprintf("web/m%d", s)})
	}
	return out
}

func testBatches(t *testing.T, s Store) {
	ctx := context.Background()
	appendFeed(t, s, "p1", 2)
	_, err := s.CreateDestination(ctx, dest(1))
	must(t, err)
	_, ok, err := s.AcquireLease(ctx, id(1), "a", at(0), time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("no lease")
	}
	if _, ok, err := s.InFlight(ctx, id(1)); err != nil || ok {
		t.Fatalf("a new destination has a delivery in flight (%v)", err)
	}
	// The cursor starts at 2: a batch from 0 is refused.
	_, _, err = s.TakeBatch(ctx, id(1), "a", 0, 4, entries(3, 4), at(1))
	wantCode(t, err, graph.ECONFLICT, "TakeBatch from a stale cursor")
	_, _, err = s.TakeBatch(ctx, id(1), "a", 2, 4, entries(2, 4), at(1))
	wantCode(t, err, graph.EINVALID, "TakeBatch of an entry at the cursor")

	// Entries 3 and 5 (4 filtered out) become delivery 1.
	batch := []graph.FeedEntry{entries(3, 3)[0], entries(5, 5)[0]}
	batch[1].Kind, batch[1].EventID, batch[1].PreviousIDs = graph.FeedMerged, "", []string{"p0", "p9"}
	d1, ok, err := s.TakeBatch(ctx, id(1), "a", 2, 5, batch, at(2))
	must(t, err)
	if !ok || d1.Number != 1 || d1.Status != destination.Pending || d1.Attempts != 0 || !d1.NextAttempt.Equal(at(2)) ||
		!destination.ValidDeliveryID(d1.ID) || len(d1.Entries) != 2 {
		t.Fatalf("first delivery: %+v", d1)
	}
	// While it is in flight, no other batch is taken.
	_, _, err = s.TakeBatch(ctx, id(1), "a", 5, 6, nil, at(3))
	wantCode(t, err, graph.ECONFLICT, "TakeBatch while a delivery is in flight")
	got, ok, err := s.InFlight(ctx, id(1))
	must(t, err)
	if !ok || got.ID != d1.ID || got.Number != 1 {
		t.Fatalf("in flight: %+v %v, want delivery 1", got, ok)
	}
	wantE := []graph.FeedEntry{
		{Seq: 3, At: at(1), Kind: graph.FeedEventAdded, ProfileID: "p1", EventID: "web/m3"},
		{Seq: 5, At: at(1), Kind: graph.FeedMerged, ProfileID: "p1", PreviousIDs: []string{"p0", "p9"}},
	}
	for i, e := range got.Entries {
		w := wantE[i]
		if e.Seq != w.Seq || !e.At.Equal(w.At) || e.Kind != w.Kind || e.ProfileID != w.ProfileID || e.EventID != w.EventID ||
			!slices.Equal(e.PreviousIDs, w.PreviousIDs) {
			t.Fatalf("entry %d: got %+v, want %+v", i, e, w)
		}
	}
	// A failed attempt keeps it in flight; the same id comes back.
	must(t, s.RecordAttempt(ctx, id(1), "a", 1, destination.Outcome{Status: destination.Failed, Attempts: 1,
		NextAttempt: at(10), LastStatusCode: 503, LastError: "HTTP 503", At: at(3)}))
	got, ok, err = s.InFlight(ctx, id(1))
	must(t, err)
	if !ok || got.ID != d1.ID || got.Status != destination.Failed || got.Attempts != 1 || !got.NextAttempt.Equal(at(10)) ||
		got.LastStatusCode != 503 || got.LastError != "HTTP 503" || !got.UpdatedAt.Equal(at(3)) || !got.CreatedAt.Equal(at(2)) ||
		!got.QueuedAt.Equal(at(2)) {
		t.Fatalf("after a failed attempt: %+v", got)
	}
	err = s.RecordAttempt(ctx, id(1), "b", 1, destination.Outcome{Status: destination.Delivered, Attempts: 2, At: at(4)})
	wantCode(t, err, graph.ECONFLICT, "RecordAttempt without the lease")
	must(t, s.RecordAttempt(ctx, id(1), "a", 1, destination.Outcome{Status: destination.Delivered, Attempts: 2, LastStatusCode: 200, At: at(11)}))
	err = s.RecordAttempt(ctx, id(1), "a", 1, destination.Outcome{Status: destination.Failed, Attempts: 3, At: at(12)})
	wantCode(t, err, graph.ECONFLICT, "RecordAttempt on a delivered batch")
	if _, ok, _ := s.InFlight(ctx, id(1)); ok {
		t.Fatal("a delivered batch is still in flight")
	}
	// A delivered batch keeps its size and span, not its entries.
	done, err := s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(1), Limit: 1})
	must(t, err)
	if len(done) != 1 || done[0].ID != d1.ID || len(done[0].Entries) != 0 || done[0].EntryCount != 2 || done[0].FirstSeq != 3 ||
		done[0].LastSeq != 5 || done[0].Status != destination.Delivered || done[0].Attempts != 2 {
		t.Fatalf("delivered batch: %+v, want no entries, count 2, seqs 3 to 5", done)
	}
	// An empty batch moves the cursor and makes no delivery.
	_, ok, err = s.TakeBatch(ctx, id(1), "a", 5, 7, nil, at(12))
	must(t, err)
	if ok {
		t.Fatal("an empty batch made a delivery")
	}
	read, err := s.Destination(ctx, id(1))
	must(t, err)
	if read.Cursor != 7 {
		t.Fatalf("cursor %d, want 7", read.Cursor)
	}
	d2, _, err := s.TakeBatch(ctx, id(1), "a", 7, 8, entries(8, 8), at(13))
	must(t, err)
	must(t, s.RecordAttempt(ctx, id(1), "a", d2.Number, destination.Outcome{Status: destination.Dead, Attempts: 1, LastStatusCode: 410, LastError: "HTTP 410", At: at(14)}))
	d3, _, err := s.TakeBatch(ctx, id(1), "a", 8, 9, entries(9, 9), at(15))
	must(t, err)
	if d2.Number != 2 || d3.Number != 3 || d2.ID == d3.ID || d2.ID == d1.ID {
		t.Fatalf("numbers %d %d, ids %s %s %s: want 2, 3 and distinct ids", d2.Number, d3.Number, d1.ID, d2.ID, d3.ID)
	}
	list := func(st destination.Status, before uint64, limit int) []uint64 {
		t.Helper()
		ds, err := s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(1), Status: st, Before: before, Limit: limit})
		must(t, err)
		var out []uint64
		for _, d := range ds {
			out = append(out, d.Number)
		}
		return out
	}
	for _, c := range []struct {
		st     destination.Status
		before uint64
		limit  int
		want   []uint64
	}{
		{"", 0, 10, []uint64{3, 2, 1}},
		{"", 0, 2, []uint64{3, 2}},
		{"", 2, 10, []uint64{1}},
		{destination.Dead, 0, 10, []uint64{2}},
		{destination.Delivered, 0, 10, []uint64{1}},
		{destination.Pending, 0, 10, []uint64{3}},
		{destination.Pending, 3, 10, nil},
		{destination.Failed, 0, 10, nil},
	} {
		if got := list(c.st, c.before, c.limit); !slices.Equal(got, c.want) {
			t.Errorf("deliveries status %q before %d limit %d: %v, want %v", c.st, c.before, c.limit, got, c.want)
		}
	}
	ds, err := s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(1), Status: destination.Dead, Limit: 1})
	must(t, err)
	if len(ds) != 1 || ds[0].ID != d2.ID || ds[0].LastStatusCode != 410 || ds[0].LastError != "HTTP 410" || ds[0].Attempts != 1 {
		t.Fatalf("dead letter: %+v", ds)
	}
}

func testReplay(t *testing.T, s Store) {
	ctx := context.Background()
	_, err := s.CreateDestination(ctx, dest(1))
	must(t, err)
	_, _, err = s.AcquireLease(ctx, id(1), "a", at(0), time.Hour)
	must(t, err)
	var ids []string
	for i := uint64(1); i <= 3; i++ {
		d, _, err := s.TakeBatch(ctx, id(1), "a", i-1, i, entries(i, i), at(int(i)))
		must(t, err)
		must(t, s.RecordAttempt(ctx, id(1), "a", d.Number, destination.Outcome{Status: destination.Dead, Attempts: 10, LastStatusCode: 500, At: at(int(i))}))
		ids = append(ids, d.ID)
	}
	n, err := s.ReplayDead(ctx, id(1), at(100), 2)
	must(t, err)
	if n != 2 {
		t.Fatalf("replayed %d, want 2 (the limit)", n)
	}
	got, ok, err := s.InFlight(ctx, id(1))
	must(t, err)
	if !ok || got.Number != 1 || got.ID != ids[0] || got.Status != destination.Pending || got.Attempts != 0 || !got.NextAttempt.Equal(at(100)) ||
		!got.QueuedAt.Equal(at(100)) || !got.CreatedAt.Equal(at(1)) {
		t.Fatalf("oldest replayed: %+v, want delivery 1 pending, same id, due at +100s", got)
	}
	n, err = s.ReplayDead(ctx, id(1), at(101), 10)
	must(t, err)
	if n != 1 {
		t.Fatalf("second replay: %d, want 1", n)
	}
	ds, err := s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(1), Status: destination.Pending, Limit: 10})
	must(t, err)
	if len(ds) != 3 {
		t.Fatalf("%d pending after replaying all, want 3", len(ds))
	}
	_, err = s.ReplayDead(ctx, id(9), at(1), 10)
	wantCode(t, err, graph.ENOTFOUND, "replay on a destination not stored")
}

func testRetryNow(t *testing.T, s Store) {
	ctx := context.Background()
	for n := 1; n <= 2; n++ {
		_, err := s.CreateDestination(ctx, dest(n))
		must(t, err)
		_, _, err = s.AcquireLease(ctx, id(n), "a", at(0), time.Hour)
		must(t, err)
	}
	// Nothing in flight: nothing to make due.
	if ok, err := s.RetryNow(ctx, id(1), at(1)); err != nil || ok {
		t.Fatalf("RetryNow with no delivery = %v, %v; want false", ok, err)
	}
	d, _, err := s.TakeBatch(ctx, id(1), "a", 0, 1, entries(1, 1), at(1))
	must(t, err)
	// A pending delivery is due already.
	if ok, err := s.RetryNow(ctx, id(1), at(2)); err != nil || ok {
		t.Fatalf("RetryNow on a pending delivery = %v, %v; want false", ok, err)
	}
	must(t, s.RecordAttempt(ctx, id(1), "a", d.Number, destination.Outcome{Status: destination.Failed, Attempts: 3,
		NextAttempt: at(500), LastStatusCode: 503, LastError: "HTTP 503", At: at(10)}))
	// The other destination's failing delivery is not touched.
	d2, _, err := s.TakeBatch(ctx, id(2), "a", 0, 1, entries(1, 1), at(1))
	must(t, err)
	must(t, s.RecordAttempt(ctx, id(2), "a", d2.Number, destination.Outcome{Status: destination.Failed, Attempts: 1,
		NextAttempt: at(700), LastStatusCode: 500, LastError: "HTTP 500", At: at(10)}))

	ok, err := s.RetryNow(ctx, id(1), at(100))
	must(t, err)
	if !ok {
		t.Fatal("RetryNow on a failed delivery due at +500s = false, want true")
	}
	got, found, err := s.InFlight(ctx, id(1))
	must(t, err)
	if !found || got.ID != d.ID || got.Status != destination.Failed || got.Attempts != 3 || !got.NextAttempt.Equal(at(100)) ||
		!got.UpdatedAt.Equal(at(100)) || !got.QueuedAt.Equal(at(1)) || got.LastStatusCode != 503 || got.LastError != "HTTP 503" {
		t.Fatalf("after RetryNow: %+v; want delivery %s failed, 3 attempts, due and updated at +100s, queued at +1s, last HTTP 503", got, d.ID)
	}
	other, _, err := s.InFlight(ctx, id(2))
	must(t, err)
	if !other.NextAttempt.Equal(at(700)) {
		t.Fatalf("RetryNow of %s moved %s's delivery to %v, want it due at +700s", id(1), id(2), other.NextAttempt)
	}
	// Due already: nothing changes.
	if ok, err := s.RetryNow(ctx, id(1), at(101)); err != nil || ok {
		t.Fatalf("second RetryNow = %v, %v; want false", ok, err)
	}
	must(t, s.RecordAttempt(ctx, id(1), "a", d.Number, destination.Outcome{Status: destination.Delivered, Attempts: 4, LastStatusCode: 200, At: at(102)}))
	if ok, err := s.RetryNow(ctx, id(1), at(103)); err != nil || ok {
		t.Fatalf("RetryNow after delivery = %v, %v; want false", ok, err)
	}
	_, err = s.RetryNow(ctx, id(9), at(1))
	wantCode(t, err, graph.ENOTFOUND, "RetryNow on a destination not stored")
}

func testDelete(t *testing.T, s Store) {
	ctx := context.Background()
	_, err := s.CreateDestination(ctx, dest(1))
	must(t, err)
	_, err = s.CreateDestination(ctx, dest(2))
	must(t, err)
	for _, n := range []int{1, 2} {
		_, _, err = s.AcquireLease(ctx, id(n), "a", at(0), time.Hour)
		must(t, err)
		_, _, err = s.TakeBatch(ctx, id(n), "a", 0, 1, entries(1, 1), at(1))
		must(t, err)
	}
	was, err := s.DeleteDestination(ctx, id(1))
	must(t, err)
	if !was {
		t.Fatal("delete of a stored destination reported none")
	}
	was, err = s.DeleteDestination(ctx, id(1))
	must(t, err)
	if was {
		t.Fatal("second delete reported a destination")
	}
	_, err = s.Destination(ctx, id(1))
	wantCode(t, err, graph.ENOTFOUND, "read after delete")
	// Re-created under the same id, it has no deliveries of the old one.
	_, err = s.CreateDestination(ctx, dest(1))
	must(t, err)
	ds, err := s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(1), Limit: 10})
	must(t, err)
	if len(ds) != 0 {
		t.Fatalf("a deleted destination's deliveries survived: %d", len(ds))
	}
	ds, err = s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(2), Limit: 10})
	must(t, err)
	if len(ds) != 1 {
		t.Fatalf("another destination's deliveries: %d, want 1", len(ds))
	}
}

func testRedact(t *testing.T, s Store) {
	ctx := context.Background()
	for _, n := range []int{1, 2} {
		_, err := s.CreateDestination(ctx, dest(n))
		must(t, err)
		_, _, err = s.AcquireLease(ctx, id(n), "a", at(0), time.Hour)
		must(t, err)
	}
	mk := func(seq uint64, p string, prev ...string) graph.FeedEntry {
		e := graph.FeedEntry{Seq: seq, At: at(1), Kind: graph.FeedEventAdded, ProfileID: p, EventID: fmt.Sprintf("web/m%d", seq)}
		if len(prev) > 0 {
			e.Kind, e.EventID, e.PreviousIDs = graph.FeedMerged, "", prev
		}
		return e
	}
	// Destination 1: batch 1 delivered (p1), batch 2 dead (p1, p2), batch
	// 3 in flight (p2, p3 merged from p1 and p4, and p5 split off p1: left
	// naming no other profile, it goes, as the feed makes it a gap).
	d1, _, err := s.TakeBatch(ctx, id(1), "a", 0, 1, []graph.FeedEntry{mk(1, "p1")}, at(1))
	must(t, err)
	must(t, s.RecordAttempt(ctx, id(1), "a", d1.Number, destination.Outcome{Status: destination.Delivered, Attempts: 1, At: at(2)}))
	d2, _, err := s.TakeBatch(ctx, id(1), "a", 1, 3, []graph.FeedEntry{mk(2, "p1"), mk(3, "p2")}, at(3))
	must(t, err)
	must(t, s.RecordAttempt(ctx, id(1), "a", d2.Number, destination.Outcome{Status: destination.Dead, Attempts: 1, At: at(4)}))
	split := mk(6, "p5", "p1")
	split.Kind = graph.FeedSplit
	_, _, err = s.TakeBatch(ctx, id(1), "a", 3, 6, []graph.FeedEntry{mk(4, "p2"), mk(5, "p3", "p1", "p4"), split}, at(5))
	must(t, err)
	// Destination 2: one batch in flight, of p1 alone.
	_, _, err = s.TakeBatch(ctx, id(2), "a", 0, 2, []graph.FeedEntry{mk(2, "p1")}, at(5))
	must(t, err)

	var n int
	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		var err error
		n, err = destination.RedactInTx(ctx, tx, []string{"p1"})
		return err
	}))
	if n != 3 {
		t.Fatalf("redaction changed %d deliveries, want 3 (dead, in flight, the other destination's)", n)
	}
	profiles := func(dest int, status destination.Status) []string {
		t.Helper()
		ds, err := s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(dest), Status: status, Limit: 10})
		must(t, err)
		var out []string
		for _, d := range ds {
			for _, e := range d.Entries {
				out = append(out, fmt.Sprintf("%d:%s%v", e.Seq, e.ProfileID, e.PreviousIDs))
			}
		}
		return out
	}
	for _, c := range []struct {
		dest   int
		status destination.Status
		want   []string
	}{
		{1, destination.Dead, []string{"3:p2[]"}},
		{1, destination.Pending, []string{"4:p2[]", "5:p3[p4]"}},
		{1, destination.Delivered, nil},
		{2, destination.Pending, nil},
	} {
		if got := profiles(c.dest, c.status); !slices.Equal(got, c.want) {
			t.Errorf("destination %d, %s: entries %v, want %v", c.dest, c.status, got, c.want)
		}
	}
	// The redacted batches keep their place and size.
	got, ok, err := s.InFlight(ctx, id(2))
	must(t, err)
	if !ok || got.EntryCount != 1 || got.FirstSeq != 2 {
		t.Fatalf("the emptied batch: %+v %v, want still in flight, count 1 from seq 2", got, ok)
	}

	// An erasure that deletes an event drops its EVENT_ADDED entry,
	// whatever profile it names: web/m4 of p2, in destination 1's batch
	// in flight. Nothing else names it.
	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		r, ok := tx.(destination.TxRedact)
		if !ok {
			return fmt.Errorf("%T does not redact deliveries", tx)
		}
		var err error
		n, err = r.RedactDeliveries(ctx, nil, []string{"web/m4", "web/m99"})
		return err
	}))
	if n != 1 {
		t.Fatalf("redacting an event changed %d deliveries, want 1", n)
	}
	if got, want := profiles(1, destination.Pending), []string{"5:p3[p4]"}; !slices.Equal(got, want) {
		t.Errorf("destination 1 in flight after the event's redaction: %v, want %v", got, want)
	}
	if got, want := profiles(1, destination.Dead), []string{"3:p2[]"}; !slices.Equal(got, want) {
		t.Errorf("destination 1's dead letter after the event's redaction: %v, want %v", got, want)
	}
}

func testPrune(t *testing.T, s Store) {
	ctx := context.Background()
	_, err := s.CreateDestination(ctx, dest(1))
	must(t, err)
	_, _, err = s.AcquireLease(ctx, id(1), "a", at(0), time.Hour)
	must(t, err)
	// Batches 1 to 4: delivered at +10s, +20s, +30s; 4 dead at +40s.
	for i := uint64(1); i <= 4; i++ {
		d, _, err := s.TakeBatch(ctx, id(1), "a", i-1, i, entries(i, i), at(int(i)))
		must(t, err)
		st := destination.Delivered
		if i == 4 {
			st = destination.Dead
		}
		must(t, s.RecordAttempt(ctx, id(1), "a", d.Number, destination.Outcome{Status: st, Attempts: 1, At: at(int(i) * 10)}))
	}
	n, err := s.PruneDelivered(ctx, id(1), at(25), 10)
	must(t, err)
	if n != 2 {
		t.Fatalf("pruned %d delivered before +25s, want 2", n)
	}
	n, err = s.PruneDelivered(ctx, id(1), at(100), 10)
	must(t, err)
	if n != 1 {
		t.Fatalf("pruned %d, want 1 (the dead letter stays)", n)
	}
	ds, err := s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(1), Limit: 10})
	must(t, err)
	if len(ds) != 1 || ds[0].Number != 4 || ds[0].Status != destination.Dead {
		t.Fatalf("left after pruning: %+v, want the dead letter 4 alone", ds)
	}
	// A replayed dead letter is delivered after batches numbered above
	// it: 4 replayed and delivered at +200s, 5 delivered at +50s. Pruning
	// before +100s takes 5, not stopping at 4, delivered too recently.
	d, _, err := s.TakeBatch(ctx, id(1), "a", 4, 5, entries(5, 5), at(5))
	must(t, err)
	must(t, s.RecordAttempt(ctx, id(1), "a", d.Number, destination.Outcome{Status: destination.Delivered, Attempts: 1, At: at(50)}))
	if n, err := s.ReplayDead(ctx, id(1), at(150), 10); err != nil || n != 1 {
		t.Fatalf("ReplayDead = %d, %v; want the dead letter", n, err)
	}
	must(t, s.RecordAttempt(ctx, id(1), "a", 4, destination.Outcome{Status: destination.Delivered, Attempts: 1, At: at(200)}))
	n, err = s.PruneDelivered(ctx, id(1), at(100), 10)
	must(t, err)
	ds, err = s.Deliveries(ctx, destination.DeliveryQuery{DestinationID: id(1), Limit: 10})
	must(t, err)
	if n != 1 || len(ds) != 1 || ds[0].Number != 4 {
		t.Fatalf("pruned %d before +100s, left %+v; want batch 5 pruned and the replayed 4 alone left", n, ds)
	}
}

// testLoadNumbers: a destination's delivery number (the Number of the
// newest batch it took) outlives its deliveries, is read back with it and
// loaded with it, so that a copy of a destination whose batches were all
// pruned numbers its next batch after them; a load never lowers it.
func testLoadNumbers(t *testing.T, s Store) {
	ctx := context.Background()
	_, err := s.CreateDestination(ctx, dest(1))
	must(t, err)
	_, _, err = s.AcquireLease(ctx, id(1), "a", at(0), time.Hour)
	must(t, err)
	for i := uint64(1); i <= 3; i++ {
		d, _, err := s.TakeBatch(ctx, id(1), "a", i-1, i, entries(i, i), at(int(i)))
		must(t, err)
		must(t, s.RecordAttempt(ctx, id(1), "a", d.Number, destination.Outcome{Status: destination.Delivered, Attempts: 1, At: at(10)}))
	}
	if n, err := s.PruneDelivered(ctx, id(1), at(100), 10); err != nil || n != 3 {
		t.Fatalf("pruned %d, %v; want the 3 batches", n, err)
	}
	got, err := s.Destination(ctx, id(1))
	must(t, err)
	if got.LastNumber != 3 {
		t.Fatalf("a destination that took 3 batches, all pruned, reads LastNumber %d, want 3", got.LastNumber)
	}
	page, err := s.DestinationPage(ctx, "", 10)
	must(t, err)
	if len(page) != 1 || page[0].LastNumber != 3 {
		t.Fatalf("DestinationPage: %+v, want one destination with LastNumber 3", page)
	}
	// An update keeps it, as it keeps the cursor.
	u := dest(1)
	u.Name, u.LastNumber = "renamed", 99
	got, err = s.UpdateDestination(ctx, u)
	must(t, err)
	if got.LastNumber != 3 {
		t.Fatalf("an update set LastNumber to %d, want 3 kept", got.LastNumber)
	}
	d, _, err := s.TakeBatch(ctx, id(1), "a", 3, 4, entries(4, 4), at(4))
	must(t, err)
	if d.Number != 4 {
		t.Fatalf("the batch after 3 pruned ones is numbered %d, want 4", d.Number)
	}

	// A load of a destination with no delivery (as a copy of the one
	// above would be, its batches pruned) numbers the next batch after
	// the LastNumber given.
	l := dest(2)
	l.Cursor, l.LastNumber = 20, 7
	must(t, s.(destination.Loader).LoadDestinations(ctx, []destination.Destination{l}))
	got, err = s.Destination(ctx, id(2))
	must(t, err)
	if got.LastNumber != 7 || got.Cursor != 20 {
		t.Fatalf("loaded with LastNumber 7 and cursor 20, reads %d and %d", got.LastNumber, got.Cursor)
	}
	_, _, err = s.AcquireLease(ctx, id(2), "a", at(0), time.Hour)
	must(t, err)
	d, _, err = s.TakeBatch(ctx, id(2), "a", 20, 21, entries(21, 21), at(5))
	must(t, err)
	if d.Number != 8 {
		t.Fatalf("the first batch of a destination loaded with LastNumber 7 is numbered %d, want 8", d.Number)
	}
	// A load with a lower LastNumber (a copy run again from a source
	// behind the target) does not lower it: no number is taken twice.
	l.LastNumber = 2
	must(t, s.(destination.Loader).LoadDestinations(ctx, []destination.Destination{l}))
	if got, err = s.Destination(ctx, id(2)); err != nil || got.LastNumber != 8 {
		t.Fatalf("a load with LastNumber 2 over 8: reads %d, %v; want 8 kept", got.LastNumber, err)
	}
	// Loaded deliveries raise it to the greatest Number loaded.
	must(t, s.(destination.Loader).LoadDeliveries(ctx, []destination.Delivery{{ID: destination.NewDeliveryID(), DestinationID: id(2),
		Number: 12, Status: destination.Dead, Attempts: 5, EntryCount: 1, FirstSeq: 9, LastSeq: 9,
		Entries: entries(9, 9), CreatedAt: at(1), QueuedAt: at(1), UpdatedAt: at(2)}}))
	if got, err = s.Destination(ctx, id(2)); err != nil || got.LastNumber != 12 {
		t.Fatalf("after loading delivery 12: LastNumber %d, %v; want 12", got.LastNumber, err)
	}
	// A new destination starts at 0, whatever it is given.
	c := dest(3)
	c.LastNumber = 5
	got, err = s.CreateDestination(ctx, c)
	must(t, err)
	if got.LastNumber != 0 {
		t.Fatalf("a created destination has LastNumber %d, want 0", got.LastNumber)
	}
}

// erasureFeed appends, in one transaction, the entries of
// testTakeAfterErasure: p1's and p2's events, p2 merged from p1 and p3, p4
// merged from p1 alone, and another event of p2 (Seqs 1 to 5).
func erasureFeed(t *testing.T, s Store) {
	t.Helper()
	must(t, s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		return graph.AppendFeed(ctx, tx, []graph.FeedEntry{
			{At: at(1), Kind: graph.FeedEventAdded, ProfileID: "p1", EventID: "web/m1"},
			{At: at(1), Kind: graph.FeedEventAdded, ProfileID: "p2", EventID: "web/m2"},
			{At: at(1), Kind: graph.FeedMerged, ProfileID: "p2", PreviousIDs: []string{"p1", "p3"}},
			{At: at(1), Kind: graph.FeedMerged, ProfileID: "p4", PreviousIDs: []string{"p1"}},
			{At: at(1), Kind: graph.FeedEventAdded, ProfileID: "p2", EventID: "web/m5"},
		})
	}))
}

// leasedErasureFeed creates destination 1, takes its lease as "a", writes
// erasureFeed and returns the five entries read from it.
func leasedErasureFeed(t *testing.T, s Store) []graph.FeedEntry {
	t.Helper()
	ctx := context.Background()
	_, err := s.CreateDestination(ctx, dest(1))
	must(t, err)
	_, _, err = s.AcquireLease(ctx, id(1), "a", at(0), time.Hour)
	must(t, err)
	erasureFeed(t, s)
	read, err := s.Feed(ctx, 0, nil, 100)
	must(t, err)
	if len(read) != 5 {
		t.Fatalf("read %d feed entries, want 5", len(read))
	}
	return read
}

// stored lists the entries of the destination's deliveries as
// "seq:kind:profile[previous ids]", newest delivery first.
func stored(t *testing.T, s Store, dest string) []string {
	t.Helper()
	ds, err := s.Deliveries(context.Background(), destination.DeliveryQuery{DestinationID: dest, Limit: 10})
	must(t, err)
	var out []string
	for _, d := range ds {
		for _, e := range d.Entries {
			out = append(out, fmt.Sprintf("%d:%s:%s%v", e.Seq, e.Kind, e.ProfileID, e.PreviousIDs))
		}
	}
	return out
}

// A batch read from the feed before an erasure committed, and taken after
// it, holds nothing of the erased profile: TakeBatch reads the feed again.
func testTakeAfterErasure(t *testing.T, s Store) {
	ctx := context.Background()
	read := leasedErasureFeed(t, s)
	// The erasure commits between the read and TakeBatch, as the engine's
	// does (graph.RedactFeed: the feed, then the batches not delivered).
	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return graph.RedactFeed(ctx, tx, []string{"p1"}, nil)
	}))
	d, made, err := s.TakeBatch(ctx, id(1), "a", 0, 5, read, at(2))
	must(t, err)
	// Seq 1 (p1's event) and 4 (a merge from p1 alone) are gaps now; the
	// merge at 3 keeps p3 alone.
	want := []string{"2:EVENT_ADDED:p2[]", "3:MERGED:p2[p3]", "5:EVENT_ADDED:p2[]"}
	if !made || d.EntryCount != 3 || d.FirstSeq != 2 || d.LastSeq != 5 || len(d.Entries) != 3 {
		t.Fatalf("TakeBatch after the erasure: made %v, %+v; want 3 entries, seqs 2 to 5", made, d)
	}
	if got := stored(t, s, id(1)); !slices.Equal(got, want) {
		t.Fatalf("stored entries %v, want %v", got, want)
	}
	read2, err := s.Destination(ctx, id(1))
	must(t, err)
	if read2.Cursor != 5 {
		t.Fatalf("cursor %d, want 5", read2.Cursor)
	}
	// A batch of nothing but the erased profile's entries makes no
	// delivery, and still moves the cursor.
	must(t, s.RecordAttempt(ctx, id(1), "a", d.Number, destination.Outcome{Status: destination.Delivered, Attempts: 1, At: at(3)}))
	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return graph.AppendFeed(ctx, tx, []graph.FeedEntry{{At: at(4), Kind: graph.FeedEventAdded, ProfileID: "p9", EventID: "web/m6"}})
	}))
	read, err = s.Feed(ctx, 5, nil, 100)
	must(t, err)
	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return graph.RedactFeed(ctx, tx, []string{"p9"}, nil)
	}))
	_, made, err = s.TakeBatch(ctx, id(1), "a", 5, 6, read, at(5))
	must(t, err)
	if made {
		t.Fatal("a batch of an erased profile's entries alone made a delivery")
	}
	read2, err = s.Destination(ctx, id(1))
	must(t, err)
	if read2.Cursor != 6 {
		t.Fatalf("cursor %d, want 6", read2.Cursor)
	}
}

// An erasure whose transaction is open while TakeBatch runs: whichever
// commits first, the stored batch holds nothing of the erased profile.
// The erasure commits only once TakeBatch has returned or has had a
// moment to run; either order must end the same.
func testTakeRacingErasure(t *testing.T, s Store) {
	ctx := context.Background()
	read := leasedErasureFeed(t, s)
	redacted, proceed := make(chan struct{}), make(chan struct{})
	erased := make(chan error, 1)
	go func() {
		once := sync.Once{}
		erased <- s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			if err := graph.RedactFeed(ctx, tx, []string{"p1"}, nil); err != nil {
				return err
			}
			once.Do(func() { close(redacted) })
			<-proceed
			return nil
		})
	}()
	<-redacted
	taken := make(chan error, 1)
	go func() {
		_, _, err := s.TakeBatch(ctx, id(1), "a", 0, 5, read, at(2))
		taken <- err
	}()
	select {
	case err := <-taken:
		taken <- err
	case <-time.After(300 * time.Millisecond):
	}
	close(proceed)
	must(t, <-erased)
	must(t, <-taken)
	want := []string{"2:EVENT_ADDED:p2[]", "3:MERGED:p2[p3]", "5:EVENT_ADDED:p2[]"}
	if got := stored(t, s, id(1)); !slices.Equal(got, want) {
		t.Fatalf("stored entries %v, want %v", got, want)
	}
}
