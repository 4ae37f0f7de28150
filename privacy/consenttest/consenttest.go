// Package consenttest is the conformance suite of privacy.ConsentStore and
// privacy.TxConsent: every store runs it (graph/embedded and
// graph/neo4jstore, through internal/storetest) against a real database.
// Expectations are written out by hand from the records the test sends,
// never read back from what a store wrote.
package consenttest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

var (
	must     = storetest.Must
	wantCode = storetest.WantCode
)

// Store is what a store under test must be: a graph.Store whose write
// transactions implement privacy.TxConsent, and a privacy.ConsentStore.
type Store interface {
	graph.Store
	privacy.ConsentStore
}

// Run runs the suite; open returns a fresh, empty store for one test.
func Run(t *testing.T, open func(t *testing.T) graph.Store) {
	get := storetest.As[Store](open)
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, get(t)) })
	t.Run("NewestFirst", func(t *testing.T) { testNewestFirst(t, get(t)) })
	t.Run("Replay", func(t *testing.T) { testReplay(t, get(t)) })
	t.Run("Conflict", func(t *testing.T) { testConflict(t, get(t)) })
	t.Run("Input", func(t *testing.T) { testInput(t, get(t)) })
	t.Run("PerKey", func(t *testing.T) { testPerKey(t, get(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, get(t)) })
	t.Run("Many", func(t *testing.T) { testMany(t, get(t)) })
	t.Run("ReadMany", func(t *testing.T) { testReadMany(t, get(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, get(t)) })
	t.Run("InTx", func(t *testing.T) { testInTx(t, get(t)) })
	t.Run("PurposeStored", func(t *testing.T) { testPurposeStored(t, get(t)) })
}

// t0 is the suite's own time.
var t0 = time.Date(2026, 5, 4, 8, 30, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// id returns a well-formed record id ending in n.
func id(n int) string { return fmt.Sprintf("cns_%032x", n) }

const (
	ann = "email:ann@example.com"
	bob = "phone:+15550100"
	cal = "user_id:cal-42"
)

// rec returns a minimal valid record.
func rec(n int, key, purpose string, status privacy.Status, decided time.Time) privacy.Record {
	return privacy.Record{ID: id(n), Purpose: purpose, Status: status, At: decided, Source: "web",
		LegalBasis: privacy.BasisConsent, Identifier: key, ReceivedAt: decided.Add(time.Second)}
}

func consentOf(t *testing.T, s privacy.ConsentStore, keys ...string) map[string][]privacy.Record {
	t.Helper()
	m, err := s.ConsentOf(context.Background(), keys)
	must(t, err)
	for k, rs := range m {
		if !slices.Contains(keys, k) {
			t.Fatalf("ConsentOf returned key %s, which was not asked", k)
		}
		if len(rs) == 0 {
			t.Fatalf("ConsentOf maps %s to no records; keys without records must be left out", k)
		}
	}
	return m
}

// wantRecords compares got with want, record by record and in order.
func wantRecords(t *testing.T, what string, got, want []privacy.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records %v, want %d %v", what, len(got), ids(got), len(want), ids(want))
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Fatalf("%s: record %d is\n%+v\nwant\n%+v", what, i, got[i], want[i])
		}
		for _, tm := range []time.Time{got[i].At, got[i].ReceivedAt, got[i].ExpiresAt} {
			if tm.Location() != time.UTC {
				t.Fatalf("%s: record %d holds a time in %v, want UTC", what, i, tm.Location())
			}
		}
	}
}

func ids(rs []privacy.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func total(m map[string][]privacy.Record) int {
	n := 0
	for _, rs := range m {
		n += len(rs)
	}
	return n
}

// Every field goes in and comes back, times as graph.Clean gives them:
// UTC, truncated to the microsecond.
func testRoundTrip(t *testing.T, s Store) {
	ctx := context.Background()
	paris := time.FixedZone("CEST", 2*3600)
	full := privacy.Record{
		ID: id(1), Purpose: "email", Status: privacy.StatusGranted,
		At:     time.Date(2026, 5, 4, 10, 30, 0, 123456789, paris), // 08:30:00.123456789 UTC
		Source: "signup-web", LegalBasis: privacy.BasisConsent, Identifier: ann,
		Proof: privacy.Proof{Text: "Yes, send me the newsletter.\nI can unsubscribe at any time.", Version: "nl-2026-03",
			Channel: "web", Collector: "footer-form", EventID: "signup-web/msg-0001"},
		ExpiresAt:  time.Date(2027, 5, 4, 8, 30, 0, 999, time.UTC),
		ReceivedAt: time.Date(2026, 5, 4, 8, 30, 1, 500000, time.UTC),
	}
	bare := privacy.Record{ID: id(2), Purpose: "advertising", Status: privacy.StatusDenied, At: at(-60),
		Source: "crm", LegalBasis: privacy.BasisLegitimateInterests, Identifier: ann, ReceivedAt: at(-59)}
	must(t, s.PutConsent(ctx, []privacy.Record{full, bare}))

	wantFull := privacy.Record{
		ID: id(1), Purpose: "email", Status: privacy.StatusGranted,
		At:     time.Date(2026, 5, 4, 8, 30, 0, 123456000, time.UTC),
		Source: "signup-web", LegalBasis: privacy.BasisConsent, Identifier: "email:ann@example.com",
		Proof: privacy.Proof{Text: "Yes, send me the newsletter.\nI can unsubscribe at any time.", Version: "nl-2026-03",
			Channel: "web", Collector: "footer-form", EventID: "signup-web/msg-0001"},
		ExpiresAt:  time.Date(2027, 5, 4, 8, 30, 0, 0, time.UTC),
		ReceivedAt: time.Date(2026, 5, 4, 8, 30, 1, 500000, time.UTC),
	}
	wantBare := privacy.Record{ID: id(2), Purpose: "advertising", Status: privacy.StatusDenied,
		At: time.Date(2026, 5, 4, 7, 30, 0, 0, time.UTC), Source: "crm", LegalBasis: privacy.BasisLegitimateInterests,
		Identifier: "email:ann@example.com", ReceivedAt: time.Date(2026, 5, 4, 7, 31, 0, 0, time.UTC)}
	got := consentOf(t, s, ann)
	if len(got) != 1 {
		t.Fatalf("ConsentOf(ann) has keys %v", slices.Sorted(maps.Keys(got)))
	}
	// full decided at 08:30, bare at 07:30: full is newer.
	wantRecords(t, "ConsentOf(ann)", got[ann], []privacy.Record{wantFull, wantBare})
	if !got[ann][1].ExpiresAt.IsZero() || got[ann][1].Proof != (privacy.Proof{}) {
		t.Fatalf("a record without expiry or proof came back with %v, %+v", got[ann][1].ExpiresAt, got[ann][1].Proof)
	}

	// Unknown keys, and no keys, give an empty map.
	if m := consentOf(t, s, bob, cal); len(m) != 0 {
		t.Fatalf("ConsentOf of unknown keys = %v", m)
	}
	if m := consentOf(t, s); len(m) != 0 {
		t.Fatalf("ConsentOf of no keys = %v", m)
	}
	// A purpose the rules do not list (any longer) is still stored: the
	// store checks structure, the caller checks purposes.
	old := rec(3, bob, "fax_marketing", privacy.StatusWithdrawn, at(0))
	must(t, s.PutConsent(ctx, []privacy.Record{old}))
	wantRecords(t, "ConsentOf(bob)", consentOf(t, s, bob)[bob], []privacy.Record{{ID: id(3), Purpose: "fax_marketing",
		Status: privacy.StatusWithdrawn, At: t0, Source: "web", LegalBasis: privacy.BasisConsent, Identifier: bob,
		ReceivedAt: t0.Add(time.Second)}})
	must(t, s.PutConsent(ctx, nil))
}

// Records come newest first by privacy.Compare: at, then receivedAt, then
// id, whatever order they were put in.
func testNewestFirst(t *testing.T, s Store) {
	ctx := context.Background()
	r := func(n int, decided, received time.Time) privacy.Record {
		x := rec(n, ann, "analytics", privacy.StatusGranted, decided)
		x.ReceivedAt = received
		return x
	}
	// Worked order, newest first:
	//   id 5: at 20
	//   id 4: at 10, received 12
	//   id 9: at 10, received 11   (ties with 3 on at and receivedAt; 9 > 3)
	//   id 3: at 10, received 11
	//   id 7: at 10, received 10µs after at 10
	//   id 1: at -5 (a decision before t0)
	records := []privacy.Record{
		r(3, at(10), at(11)), r(5, at(20), at(20)), r(1, at(-5), at(30)),
		r(9, at(10), at(11)), r(7, at(10), at(10).Add(10*time.Microsecond)), r(4, at(10), at(12)),
	}
	must(t, s.PutConsent(ctx, records[:3]))
	must(t, s.PutConsent(ctx, records[3:]))
	got := consentOf(t, s, ann)[ann]
	if want := []string{id(5), id(4), id(9), id(3), id(7), id(1)}; !slices.Equal(ids(got), want) {
		t.Fatalf("order = %v, want %v", ids(got), want)
	}
	// Sub-microsecond differences are cleaned away before ordering: 11
	// and 12 differ only by nanoseconds, so id decides (12 > 11).
	s2 := []privacy.Record{r(11, at(40).Add(300), at(41)), r(12, at(40).Add(200), at(41))}
	must(t, s.PutConsent(ctx, s2))
	got = consentOf(t, s, ann)[ann]
	if want := []string{id(12), id(11), id(5), id(4), id(9), id(3), id(7), id(1)}; !slices.Equal(ids(got), want) {
		t.Fatalf("order after nanosecond ties = %v, want %v", ids(got), want)
	}
}

// Putting a record again with the same content, even spelled in another
// zone or with nanoseconds the store drops, is a no-op.
func testReplay(t *testing.T, s Store) {
	ctx := context.Background()
	a := rec(1, ann, "email", privacy.StatusGranted, at(0))
	a.Proof = privacy.Proof{EventID: "web/m-1"}
	b := rec(2, ann, "sms", privacy.StatusDenied, at(1))
	must(t, s.PutConsent(ctx, []privacy.Record{a, b}))
	must(t, s.PutConsent(ctx, []privacy.Record{a, b}))
	again := a
	again.At = a.At.In(time.FixedZone("EST", -5*3600)).Add(700) // same microsecond
	c := rec(3, bob, "email", privacy.StatusGranted, at(2))
	// A repeat within one batch is stored once.
	must(t, s.PutConsent(ctx, []privacy.Record{again, c, c, b}))
	got := consentOf(t, s, ann, bob)
	if total(got) != 3 {
		t.Fatalf("after replays: %d records, want 3", total(got))
	}
	wantRecords(t, "ann after replays", got[ann], []privacy.Record{
		{ID: id(2), Purpose: "sms", Status: privacy.StatusDenied, At: at(1), Source: "web", LegalBasis: privacy.BasisConsent,
			Identifier: ann, ReceivedAt: at(1).Add(time.Second)},
		{ID: id(1), Purpose: "email", Status: privacy.StatusGranted, At: at(0), Source: "web", LegalBasis: privacy.BasisConsent,
			Identifier: ann, Proof: privacy.Proof{EventID: "web/m-1"}, ReceivedAt: at(0).Add(time.Second)},
	})
}

// A stored id with other content is a conflict, and nothing of the batch
// is stored.
func testConflict(t *testing.T, s Store) {
	ctx := context.Background()
	a := rec(1, ann, "email", privacy.StatusGranted, at(0))
	must(t, s.PutConsent(ctx, []privacy.Record{a}))
	fresh := rec(2, bob, "email", privacy.StatusGranted, at(1))
	for _, c := range []struct {
		name   string
		change func(r *privacy.Record)
	}{
		{"status", func(r *privacy.Record) { r.Status = privacy.StatusWithdrawn }},
		{"at", func(r *privacy.Record) { r.At = r.At.Add(time.Microsecond) }},
		{"receivedAt", func(r *privacy.Record) { r.ReceivedAt = r.ReceivedAt.Add(time.Second) }},
		{"identifier", func(r *privacy.Record) { r.Identifier = cal }},
		{"purpose", func(r *privacy.Record) { r.Purpose = "sms" }},
		{"proof", func(r *privacy.Record) { r.Proof.Collector = "banner-7" }},
		{"expiresAt", func(r *privacy.Record) { r.ExpiresAt = at(100) }},
		{"source", func(r *privacy.Record) { r.Source = "app" }},
		{"legalBasis", func(r *privacy.Record) { r.LegalBasis = privacy.BasisContract }},
	} {
		x := a
		c.change(&x)
		// The fresh record first: it must not be stored either.
		err := s.PutConsent(ctx, []privacy.Record{fresh, x})
		wantCode(t, err, graph.ECONFLICT, "a stored id with another "+c.name)
		if !strings.Contains(err.Error(), id(1)) {
			t.Errorf("conflict on %s: %q does not name the record id", c.name, err)
		}
		if strings.Contains(err.Error(), "ann@example.com") || strings.Contains(err.Error(), "cal-42") {
			t.Errorf("conflict on %s: %q echoes an identifier", c.name, err)
		}
	}
	// Within one batch too.
	x := fresh
	x.Status = privacy.StatusDenied
	err := s.PutConsent(ctx, []privacy.Record{fresh, x})
	wantCode(t, err, graph.ECONFLICT, "an id repeated in the batch with other content")
	if !strings.Contains(err.Error(), "consent record 1") {
		t.Errorf("in-batch conflict %q does not name record 1", err)
	}
	got := consentOf(t, s, ann, bob, cal)
	if total(got) != 1 || len(got[ann]) != 1 || !got[ann][0].Equal(a.Clean()) {
		t.Fatalf("after refused batches: %v, want only record 1 of ann, unchanged", got)
	}
}

// Bad records are refused with EINVALID naming the record and the field,
// never echoing the identifier, and nothing of the batch is stored.
func testInput(t *testing.T, s Store) {
	ctx := context.Background()
	good := rec(1, ann, "email", privacy.StatusGranted, at(0))
	for _, c := range []struct {
		name   string
		change func(r *privacy.Record)
		want   string
	}{
		{"no id", func(r *privacy.Record) { r.ID = "" }, "consent record id"},
		{"bad id", func(r *privacy.Record) { r.ID = "cns_XYZ" }, "consent record id"},
		{"no purpose", func(r *privacy.Record) { r.Purpose = "" }, "purpose is missing"},
		{"bad purpose", func(r *privacy.Record) { r.Purpose = "Ads!" }, "purpose"},
		{"no status", func(r *privacy.Record) { r.Status = "" }, "status is missing"},
		{"bad status", func(r *privacy.Record) { r.Status = "MAYBE" }, "status"},
		{"no legal basis", func(r *privacy.Record) { r.LegalBasis = "" }, "legalBasis is missing"},
		{"bad legal basis", func(r *privacy.Record) { r.LegalBasis = "WHIM" }, "legalBasis"},
		{"no at", func(r *privacy.Record) { r.At = time.Time{} }, "at (when the person decided) is missing"},
		{"no receivedAt", func(r *privacy.Record) { r.ReceivedAt = time.Time{} }, "receivedAt is missing"},
		{"expiry before at", func(r *privacy.Record) { r.ExpiresAt = r.At.Add(-time.Hour) }, "expiresAt"},
		{"no source", func(r *privacy.Record) { r.Source = "" }, "source is missing"},
		{"bad source", func(r *privacy.Record) { r.Source = "a b" }, "source"},
		{"no identifier", func(r *privacy.Record) { r.Identifier = "" }, "identifier is missing"},
		{"identifier not a key", func(r *privacy.Record) { r.Identifier = "ann@example.com" }, "identifier is not a graph key"},
		{"unnormalized identifier", func(r *privacy.Record) { r.Identifier = "email: ann@example.com" }, "identifier email"},
		{"long proof text", func(r *privacy.Record) { r.Proof.Text = strings.Repeat("x", privacy.MaxProofTextBytes+1) }, "proof.text"},
		{"control in collector", func(r *privacy.Record) { r.Proof.Collector = "a\x00b" }, "proof.collector"},
		{"long event id", func(r *privacy.Record) { r.Proof.EventID = strings.Repeat("e", privacy.MaxEventIDBytes+1) }, "proof.eventId"},
	} {
		bad := rec(2, bob, "sms", privacy.StatusGranted, at(1))
		c.change(&bad)
		err := s.PutConsent(ctx, []privacy.Record{good, bad})
		wantCode(t, err, graph.EINVALID, c.name)
		if !strings.Contains(err.Error(), "consent record 1: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not say consent record 1: ... %q", c.name, err, c.want)
		}
		if strings.Contains(err.Error(), "ann@example.com") || strings.Contains(err.Error(), "+15550100") {
			t.Errorf("%s: error %q echoes an identifier", c.name, err)
		}
	}
	if got := consentOf(t, s, ann, bob); len(got) != 0 {
		t.Fatalf("refused batches stored %d records", total(got))
	}
	// Keys are checked too, by position, without their value.
	_, err := s.ConsentOf(ctx, []string{ann, "ann@example.com"})
	wantCode(t, err, graph.EINVALID, "ConsentOf of a malformed key")
	if !strings.Contains(err.Error(), "identifier key 1") || strings.Contains(err.Error(), "ann@example.com") {
		t.Errorf("ConsentOf error %q does not name key 1, or echoes it", err)
	}
	_, err = s.DeleteConsent(ctx, []string{""})
	wantCode(t, err, graph.EINVALID, "DeleteConsent of an empty key")
	if !strings.Contains(err.Error(), "identifier key 0") {
		t.Errorf("DeleteConsent error %q does not name key 0", err)
	}
}

// Each key gets its own records; asking for a key twice, or with others,
// changes nothing.
func testPerKey(t *testing.T, s Store) {
	ctx := context.Background()
	a1 := rec(1, ann, "email", privacy.StatusGranted, at(0))
	a2 := rec(2, ann, "email", privacy.StatusWithdrawn, at(5))
	b1 := rec(3, bob, "email", privacy.StatusDenied, at(3))
	b2 := rec(4, bob, "sms", privacy.StatusGranted, at(1))
	c1 := rec(5, cal, "push", privacy.StatusGranted, at(2))
	must(t, s.PutConsent(ctx, []privacy.Record{b2, a1, c1, b1, a2}))
	got := consentOf(t, s, bob, ann, ann, "email:nobody@example.com")
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{ann, bob}) {
		t.Fatalf("keys = %v, want ann and bob", keys)
	}
	if !slices.Equal(ids(got[ann]), []string{id(2), id(1)}) || !slices.Equal(ids(got[bob]), []string{id(3), id(4)}) {
		t.Fatalf("ann %v (want %v), bob %v (want %v)", ids(got[ann]), []string{id(2), id(1)}, ids(got[bob]), []string{id(3), id(4)})
	}
	for k, rs := range got {
		for _, r := range rs {
			if r.Identifier != k {
				t.Fatalf("record %s of %s says identifier %s", r.ID, k, r.Identifier)
			}
		}
	}
	// A profile's ledger is its keys' records together: the state rule
	// over ann and bob gives the newest email record, id 2 (at 5).
	all := append(slices.Clone(got[ann]), got[bob]...)
	if st := privacy.StateOf(all, "email", at(60)); st.State != privacy.StateWithdrawn || st.Record == nil || st.Record.ID != id(2) {
		t.Fatalf("state of email over ann and bob = %+v, want WITHDRAWN from %s", st, id(2))
	}
	// A key whose value starts with another key's is its own key.
	longer := rec(6, ann+"x", "email", privacy.StatusGranted, at(9))
	must(t, s.PutConsent(ctx, []privacy.Record{longer}))
	if got := consentOf(t, s, ann); !slices.Equal(ids(got[ann]), []string{id(2), id(1)}) {
		t.Fatalf("ann after a longer key's record: %v", ids(got[ann]))
	}
}

// DeleteConsent removes exactly the records of the keys and counts them.
func testDelete(t *testing.T, s Store) {
	ctx := context.Background()
	must(t, s.PutConsent(ctx, []privacy.Record{
		rec(1, ann, "email", privacy.StatusGranted, at(0)),
		rec(2, ann, "sms", privacy.StatusGranted, at(1)),
		rec(3, ann, "push", privacy.StatusDenied, at(2)),
		rec(4, bob, "email", privacy.StatusGranted, at(3)),
		rec(5, cal, "email", privacy.StatusGranted, at(4)),
		rec(6, ann+"x", "email", privacy.StatusGranted, at(5)),
	}))
	n, err := s.DeleteConsent(ctx, []string{ann, bob, ann, "email:nobody@example.com"})
	must(t, err)
	if n != 4 {
		t.Fatalf("DeleteConsent(ann, bob) = %d, want 4", n)
	}
	got := consentOf(t, s, ann, bob, cal, ann+"x")
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{ann + "x", cal}) {
		t.Fatalf("keys left = %v, want cal and the longer key", keys)
	}
	if !slices.Equal(ids(got[cal]), []string{id(5)}) || !slices.Equal(ids(got[ann+"x"]), []string{id(6)}) {
		t.Fatalf("records left: %v", got)
	}
	n, err = s.DeleteConsent(ctx, []string{ann})
	must(t, err)
	if n != 0 {
		t.Fatalf("a second DeleteConsent(ann) = %d, want 0", n)
	}
	if n, err := s.DeleteConsent(ctx, nil); err != nil || n != 0 {
		t.Fatalf("DeleteConsent(nil) = %d, %v", n, err)
	}
	// A deleted id may be stored again, with other content: nothing of
	// the deleted record is left to conflict with.
	back := rec(1, bob, "analytics", privacy.StatusDenied, at(9))
	must(t, s.PutConsent(ctx, []privacy.Record{back}))
	wantRecords(t, "bob after the id came back", consentOf(t, s, bob)[bob], []privacy.Record{{ID: id(1), Purpose: "analytics",
		Status: privacy.StatusDenied, At: at(9), Source: "web", LegalBasis: privacy.BasisConsent, Identifier: bob,
		ReceivedAt: at(9).Add(time.Second)}})
}

// ConsentPurposeStored finds a purpose whatever identifier holds it, and
// no longer once its last record is deleted; a purpose no record has, a
// name in another case, or a string that is no purpose name, is not
// stored. A proof text that quotes a purpose does not count.
func testPurposeStored(t *testing.T, s Store) {
	ctx := context.Background()
	ps, ok := any(s).(privacy.PurposeStore)
	if !ok {
		t.Fatalf("%T does not implement privacy.PurposeStore", s)
	}
	stored := func(purpose string) bool {
		t.Helper()
		ok, err := ps.ConsentPurposeStored(ctx, purpose)
		must(t, err)
		return ok
	}
	if stored("email") {
		t.Fatal("an empty store holds email")
	}
	quoting := rec(3, cal, "sms", privacy.StatusGranted, at(2))
	quoting.Proof.Text = `{"purpose":"push"} and "purpose":"push"`
	must(t, s.PutConsent(ctx, []privacy.Record{
		rec(1, ann, "email", privacy.StatusGranted, at(0)),
		rec(2, bob, "fax", privacy.StatusDenied, at(1)),
		quoting,
	}))
	for purpose, want := range map[string]bool{
		"email": true, "fax": true, "sms": true,
		"push": false, "Fax": false, "fa": false, "": false, "fax ": false, `fax"`: false,
	} {
		if got := stored(purpose); got != want {
			t.Errorf("ConsentPurposeStored(%q) = %v, want %v", purpose, got, want)
		}
	}
	_, err := s.DeleteConsent(ctx, []string{bob})
	must(t, err)
	if stored("fax") {
		t.Error("fax is still stored once its only record is deleted")
	}
	if !stored("email") {
		t.Error("email is no longer stored after another key's records were deleted")
	}
}

// A batch larger than a store's statement chunk is stored whole.
func testMany(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 6000
	var records []privacy.Record
	for i := range n {
		key := fmt.Sprintf("user_id:u%d", i%100)
		records = append(records, rec(i+1, key, "analytics", privacy.StatusGranted, at(i)))
	}
	must(t, s.PutConsent(ctx, records))
	must(t, s.PutConsent(ctx, records)) // and replayed
	got := consentOf(t, s, "user_id:u0", "user_id:u99", "user_id:u100")
	if len(got["user_id:u0"]) != n/100 || len(got["user_id:u99"]) != n/100 || len(got) != 2 {
		t.Fatalf("u0 has %d records, u99 %d, want %d each", len(got["user_id:u0"]), len(got["user_id:u99"]), n/100)
	}
	// u0 holds records 1, 101, ..., 5901; the newest is 5901.
	if got["user_id:u0"][0].ID != id(5901) || got["user_id:u0"][n/100-1].ID != id(1) {
		t.Fatalf("u0 newest %s, oldest %s", got["user_id:u0"][0].ID, got["user_id:u0"][n/100-1].ID)
	}
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("user_id:u%d", i)
	}
	deleted, err := s.DeleteConsent(ctx, keys)
	must(t, err)
	if deleted != n {
		t.Fatalf("DeleteConsent of every key = %d, want %d", deleted, n)
	}
}

// ConsentOf of many keys at once, in any order, with repeats, gives each
// key exactly its own records: keys whose values start with one another,
// of every length, some with records and some without, checked against a
// map of what was put.
func testReadMany(t *testing.T, s Store) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(7, 11))
	var keys []string
	for _, typ := range []string{"email", "phone", "user_id", "x"} {
		v := ""
		for range 30 {
			// Each value extends the one before, or starts afresh.
			if rnd.IntN(3) == 0 {
				v = ""
			}
			v += string(rune('a' + rnd.IntN(3)))
			keys = append(keys, typ+":"+v)
		}
	}
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	want := map[string][]string{} // key -> record ids, newest first
	var records []privacy.Record
	n := 0
	for _, k := range keys {
		if rnd.IntN(2) == 0 {
			continue
		}
		for range 1 + rnd.IntN(3) {
			n++
			records = append(records, rec(n, k, "email", privacy.StatusGranted, at(n)))
			want[k] = append([]string{id(n)}, want[k]...)
		}
	}
	must(t, s.PutConsent(ctx, records))
	for round := range 40 {
		ask := make([]string, 1+rnd.IntN(len(keys)))
		for i := range ask {
			ask[i] = keys[rnd.IntN(len(keys))]
		}
		got := consentOf(t, s, ask...)
		for _, k := range ask {
			if !slices.Equal(ids(got[k]), want[k]) {
				t.Fatalf("round %d: ConsentOf of %d keys gives %s the records %v; want %v", round, len(ask), k, ids(got[k]), want[k])
			}
		}
	}
}

// Inside a graph write transaction, records commit and roll back with the
// rest of it, and the transaction's reads see its own writes.
func testInTx(t *testing.T, s Store) {
	ctx := context.Background()
	seen := func(key, value string) []graph.IdentifierSeen {
		return []graph.IdentifierSeen{{Key: key, Type: "user_id", Value: value, First: at(0), Last: at(0), Sources: []string{"test"}}}
	}
	must(t, s.PutConsent(ctx, []privacy.Record{rec(1, ann, "email", privacy.StatusGranted, at(0))}))
	errFail := errors.New("failed after its writes")
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen("user_id:u-fail", "u-fail"), true); err != nil {
			return err
		}
		if err := privacy.PutConsentInTx(ctx, tx, []privacy.Record{rec(2, "user_id:u-fail", "email", privacy.StatusGranted, at(1))}); err != nil {
			return err
		}
		n, err := privacy.DeleteConsentInTx(ctx, tx, []string{ann})
		if err != nil || n != 1 {
			return fmt.Errorf("DeleteConsentInTx(ann) = %d, %v; want 1", n, err)
		}
		return errFail
	})
	if !errors.Is(err, errFail) {
		t.Fatalf("Update = %v, want %v", err, errFail)
	}
	got := consentOf(t, s, ann, "user_id:u-fail")
	if !slices.Equal(ids(got[ann]), []string{id(1)}) || len(got) != 1 {
		t.Fatalf("after a rolled-back transaction: %v, want ann's record 1 only", got)
	}

	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen("user_id:u-ok", "u-ok"), true); err != nil {
			return err
		}
		if err := privacy.PutConsentInTx(ctx, tx, []privacy.Record{rec(3, "user_id:u-ok", "sms", privacy.StatusDenied, at(2))}); err != nil {
			return err
		}
		in, err := privacy.ConsentInTx(ctx, tx, []string{"user_id:u-ok", ann})
		if err != nil {
			return err
		}
		if !slices.Equal(ids(in["user_id:u-ok"]), []string{id(3)}) || !slices.Equal(ids(in[ann]), []string{id(1)}) {
			return fmt.Errorf("ConsentInTx = %v, want u-ok's record 3 and ann's record 1", in)
		}
		n, err := privacy.DeleteConsentInTx(ctx, tx, []string{ann})
		if err != nil || n != 1 {
			return fmt.Errorf("DeleteConsentInTx(ann) = %d, %v; want 1", n, err)
		}
		return nil
	}))
	got = consentOf(t, s, ann, "user_id:u-ok")
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"user_id:u-ok"}) || !slices.Equal(ids(got["user_id:u-ok"]), []string{id(3)}) {
		t.Fatalf("after a committed transaction: %v, want u-ok's record 3 only", got)
	}

	// A conflict inside a transaction fails it: the identifier it locked
	// is not stored.
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen("user_id:u-dup", "u-dup"), true); err != nil {
			return err
		}
		return privacy.PutConsentInTx(ctx, tx, []privacy.Record{rec(3, "user_id:u-ok", "sms", privacy.StatusGranted, at(2))})
	})
	wantCode(t, err, graph.ECONFLICT, "a conflicting record put in a transaction")
	var idents map[string]graph.Identifier
	must(t, s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		var err error
		idents, err = tx.Identifiers(ctx, []string{"user_id:u-fail", "user_id:u-ok", "user_id:u-dup"})
		return err
	}))
	if keys := slices.Sorted(maps.Keys(idents)); !slices.Equal(keys, []string{"user_id:u-ok"}) {
		t.Fatalf("identifiers = %v, want only user_id:u-ok", keys)
	}
}

// Writers putting overlapping batches at once, in different orders, all
// succeed, and each record is stored once.
func testConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const writers, n = 6, 40
	var records []privacy.Record
	for i := range n {
		records = append(records, rec(i+1, fmt.Sprintf("user_id:u%d", i%4), "email", privacy.StatusGranted, at(i)))
	}
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		batch := slices.Clone(records)
		if w%2 == 1 {
			slices.Reverse(batch)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[w] = s.PutConsent(ctx, batch)
		}()
	}
	close(start)
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	got := consentOf(t, s, "user_id:u0", "user_id:u1", "user_id:u2", "user_id:u3")
	if total(got) != n || len(got["user_id:u0"]) != n/4 {
		t.Fatalf("%d records stored (u0 has %d), want %d (%d each)", total(got), len(got["user_id:u0"]), n, n/4)
	}
}
