package resolver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// Paging of Profile.history and Profile.consentHistory with `after`. The
// expected orders are built here from what the tests stored, never read
// back from the code under test.

// pagedChange is one history entry as the paging tests read it.
type pagedChange struct {
	Kind, From, Into string
	At               time.Time
	Reason           string
	Cursor           string
}

func (c pagedChange) key() string { return c.Kind + " " + c.From + "->" + c.Into }

// historyPage reads one page of a profile's history.
func historyPage(e *env, pid string, first int, after *string) []pagedChange {
	e.t.Helper()
	var out struct {
		Profile struct{ History []pagedChange }
	}
	vars := map[string]any{"id": pid, "first": first}
	if after != nil {
		vars["after"] = *after
	}
	e.query(`query($id:ID!,$first:Int,$after:String){profile(id:$id){history(first:$first,after:$after){kind from into at reason cursor}}}`, vars, &out)
	return out.Profile.History
}

// pageAll reads pages of first items through page, following the last
// item's cursor, until a page comes back shorter than first. between, when
// not nil, runs after the first page. It fails the test when a page is
// longer than first or the reading does not end.
func pageAll[T any](t *testing.T, first int, page func(after *string) []T, cursor func(T) string, between func()) []T {
	t.Helper()
	var all []T
	var after *string
	for range 100 {
		p := page(after)
		if len(p) > first {
			t.Fatalf("a page of first: %d holds %d items", first, len(p))
		}
		all = append(all, p...)
		if len(p) < first {
			return all
		}
		c := cursor(p[len(p)-1])
		after = &c
		if between != nil {
			between()
			between = nil
		}
	}
	t.Fatalf("paging did not end after 100 pages")
	return nil
}

// decodedCursor is the text a cursor holds, for checks that it holds no
// personal value.
func decodedCursor(t *testing.T, c string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatalf("cursor %q is not base64url: %v", c, err)
	}
	return string(raw)
}

func TestHistoryPagesInOrderWithTies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cfg := testConfig()
		cfg.MaxPage = 3
		e := newEnv(t, s, cfg, nil)

		// The survivor holds six identifiers, so every profile of one
		// identifier merged with it merges into it.
		e.apply(ev("hp-s", t0, "identify", "user_id:hist-user", "anonymous_id:anon-s1", "anonymous_id:anon-s2",
			"anonymous_id:anon-s3", "anonymous_id:anon-s4", "anonymous_id:anon-s5"))
		survivor := e.profileID("user_id", "hist-user")

		// merge stores n profiles of one identifier, then merges them all
		// into the survivor in one batch (one write, one time), and returns
		// the merges it expects: from each of them into the survivor, by
		// from id, the order of entries that share a time.
		at := t0
		merge := func(batch string, n int) []string {
			t.Helper()
			var singles, links []graph.Event
			var froms []string
			for i := range n {
				v := fmt.Sprintf("anon-%s%d", batch, i)
				at = at.Add(time.Second)
				singles = append(singles, ev("hp-"+v, at, "track", "anonymous_id:"+v))
				links = append(links, ev("hp-link-"+v, at, "track", "user_id:hist-user", "anonymous_id:"+v))
			}
			e.apply(singles...)
			for i := range n {
				froms = append(froms, e.profileID("anonymous_id", fmt.Sprintf("anon-%s%d", batch, i)))
			}
			e.apply(links...)
			sort.Strings(froms)
			var want []string
			for _, f := range froms {
				want = append(want, "MERGE "+f+"->"+survivor)
			}
			return want
		}
		b1 := merge("b", 4)
		b2 := merge("c", 4)
		var b3 []string

		got := pageAll(t, 3, func(after *string) []pagedChange { return historyPage(e, survivor, 3, after) },
			func(c pagedChange) string { return c.Cursor },
			// Merges written while the client pages come after what it read.
			func() { b3 = merge("d", 2) })

		want := slices.Concat(b1, b2, b3)
		var keys []string
		for _, c := range got {
			keys = append(keys, c.key())
		}
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("history read in pages of 3\n got %v\nwant %v", keys, want)
		}
		// The batches' merges share a time (the ties the cursor must get
		// through), and the batches follow one another.
		for i, b := range [][]pagedChange{got[:4], got[4:8], got[8:]} {
			for _, c := range b[1:] {
				if !c.At.Equal(b[0].At) {
					t.Fatalf("batch %d: merges at %v and %v; want one time", i+1, b[0].At, c.At)
				}
			}
			if i > 0 && !b[0].At.After(got[4*i-1].At) {
				t.Fatalf("batch %d at %v is not after batch %d at %v", i+1, b[0].At, i, got[4*i-1].At)
			}
		}
		for _, c := range got {
			d := decodedCursor(t, c.Cursor)
			if strings.Contains(d, "hist-user") || strings.Contains(d, "anon-") || (c.Reason != "" && strings.Contains(d, c.Reason)) {
				t.Fatalf("cursor %s holds a personal value or the reason %q", d, c.Reason)
			}
		}

		// A page after the last entry is empty, and first: 0 reads nothing.
		last := got[len(got)-1].Cursor
		if p := historyPage(e, survivor, 3, &last); len(p) != 0 {
			t.Errorf("page after the last entry: %v", p)
		}
		if p := historyPage(e, survivor, 0, nil); len(p) != 0 {
			t.Errorf("first: 0 returned %v", p)
		}
		// A cursor keeps its place in the history of the other side of
		// its entry: a merged profile's id answers with the survivor.
		mid := got[5].Cursor
		if p := historyPage(e, got[5].From, 3, &mid); len(p) != 3 || p[0].key() != want[6] {
			t.Errorf("page after entry 6 through the merged id: %v, want it to start with %s", p, want[6])
		}
	})
}

// pagedRecord is one consent record as the paging tests read it.
type pagedRecord struct {
	ID, Purpose string
	Cursor      string
}

func consentPage(e *env, pid string, purpose *string, first int, after *string) []pagedRecord {
	e.t.Helper()
	var out struct {
		Profile struct{ ConsentHistory []pagedRecord }
	}
	vars := map[string]any{"id": pid, "first": first}
	if after != nil {
		vars["after"] = *after
	}
	if purpose != nil {
		vars["purpose"] = *purpose
	}
	e.query(`query($id:ID!,$purpose:String,$first:Int,$after:String){profile(id:$id){consentHistory(purpose:$purpose,first:$first,after:$after){id purpose cursor}}}`, vars, &out)
	return out.Profile.ConsentHistory
}

// newestFirst is the documented order of consentHistory, written out here:
// at descending, then receivedAt descending, then id descending.
func newestFirst(rs []privacy.Record) []string {
	rs = slices.Clone(rs)
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if !a.At.Equal(b.At) {
			return a.At.After(b.At)
		}
		if !a.ReceivedAt.Equal(b.ReceivedAt) {
			return a.ReceivedAt.After(b.ReceivedAt)
		}
		return a.ID > b.ID
	})
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

func TestConsentHistoryPagesInOrderWithTies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cfg := testConfig()
		cfg.MaxPage = 3
		e := newEnv(t, s, cfg, nil)
		e.apply(ev("cp-1", t0, "identify", "user_id:consent-user", "email:ann@example.com", "anonymous_id:consent-anon"))
		pid := e.profileID("user_id", "consent-user")
		cs := s.(privacy.ConsentStore)

		keys := []string{"user_id:consent-user", "email:ann@example.com", "anonymous_id:consent-anon"}
		purposes := []string{"email", "sms", "advertising"}
		statuses := []privacy.Status{privacy.StatusGranted, privacy.StatusDenied, privacy.StatusWithdrawn}
		rec := func(i int, at, received time.Time) privacy.Record {
			return privacy.Record{
				ID: privacy.NewRecordID(), Purpose: purposes[i%3], Status: statuses[i%3], At: at,
				Source: "test", LegalBasis: privacy.BasisConsent, Identifier: keys[i%len(keys)], ReceivedAt: received,
				Proof: privacy.Proof{Text: "ann@example.com agreed"},
			}
		}
		// Eleven records: groups sharing at, and within them pairs sharing
		// receivedAt too, so that the record id breaks the tie.
		r0 := t0.Add(24 * time.Hour)
		var stored []privacy.Record
		for i := range 11 {
			at := t0.Add(time.Duration(i/4) * time.Hour)
			stored = append(stored, rec(i, at, r0.Add(time.Duration(i/2)*time.Minute)))
		}
		if err := cs.PutConsent(context.Background(), stored); err != nil {
			t.Fatal(err)
		}
		read := func(purpose *string) func(after *string) []pagedRecord {
			return func(after *string) []pagedRecord { return consentPage(e, pid, purpose, 3, after) }
		}
		cursorOf := func(r pagedRecord) string { return r.Cursor }
		ids := func(rs []pagedRecord) []string {
			out := make([]string, len(rs))
			for i, r := range rs {
				out[i] = r.ID
			}
			return out
		}

		got := pageAll(t, 3, read(nil), cursorOf, nil)
		if want := newestFirst(stored); !reflect.DeepEqual(ids(got), want) {
			t.Fatalf("consentHistory read in pages of 3\n got %v\nwant %v", ids(got), want)
		}
		for _, r := range got {
			if d := decodedCursor(t, r.Cursor); strings.Contains(d, "ann@example.com") || strings.Contains(d, "consent-") {
				t.Fatalf("cursor %s holds a personal value", d)
			}
		}

		// One purpose, paged alone.
		purpose := "email"
		var ofPurpose []privacy.Record
		for _, r := range stored {
			if r.Purpose == purpose {
				ofPurpose = append(ofPurpose, r)
			}
		}
		if g, want := ids(pageAll(t, 3, read(&purpose), cursorOf, nil)), newestFirst(ofPurpose); !reflect.DeepEqual(g, want) {
			t.Fatalf("consentHistory(purpose: email) read in pages of 3\n got %v\nwant %v", g, want)
		}

		// Records written while the client pages: one newer than every
		// other, one back-dated before every other, one tied with the
		// last record of the first page on at and receivedAt. None read
		// shifts: the reading goes on from its cursor, so it sees each
		// written record that sorts after the cursor and none before.
		var late []privacy.Record
		var firstPage []pagedRecord
		got = pageAll(t, 3, func(after *string) []pagedRecord {
			p := read(nil)(after)
			if after == nil {
				firstPage = p
			}
			return p
		}, cursorOf, func() {
			last := slices.IndexFunc(stored, func(r privacy.Record) bool { return r.ID == firstPage[2].ID })
			tied := rec(1, stored[last].At, stored[last].ReceivedAt)
			late = []privacy.Record{rec(0, t0.Add(10*time.Hour), r0.Add(time.Hour)), rec(2, t0.Add(-time.Hour), r0.Add(time.Hour)), tied}
			if err := cs.PutConsent(context.Background(), late); err != nil {
				t.Fatal(err)
			}
		})
		all := newestFirst(slices.Concat(stored, late))
		from := slices.Index(all, firstPage[2].ID)
		want := slices.Concat(ids(firstPage), all[from+1:])
		if !reflect.DeepEqual(ids(got), want) {
			t.Fatalf("consentHistory paged while records arrive\n got %v\nwant %v", ids(got), want)
		}
		for _, id := range newestFirst(stored) {
			if !slices.Contains(ids(got), id) {
				t.Fatalf("record %s, stored before the paging began, was skipped", id)
			}
		}

		// The record behind a state has the cursor of its place in the
		// history.
		var st struct {
			Profile struct {
				Consent []struct {
					Purpose string
					Record  *pagedRecord
				}
			}
		}
		e.query(`query($id:ID!){profile(id:$id){consent{purpose record{id purpose cursor}}}}`, map[string]any{"id": pid}, &st)
		for _, c := range st.Profile.Consent {
			if c.Record == nil {
				continue
			}
			all := newestFirst(slices.Concat(stored, late))
			i := slices.Index(all, c.Record.ID)
			p := consentPage(e, pid, nil, 3, &c.Record.Cursor)
			if want := all[i+1 : min(i+4, len(all))]; !reflect.DeepEqual(ids(p), want) {
				t.Errorf("page after the %s state's record\n got %v\nwant %v", c.Purpose, ids(p), want)
			}
		}
	})
}

// rawCursor makes a cursor of the repo's shape from any JSON object.
func rawCursor(body map[string]any) string {
	b, _ := json.Marshal(body)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestHistoryCursorsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("hc-1", t0, "identify", "user_id:cursor-user", "email:ann@example.com"))
		e.apply(ev("hc-2", t0, "identify", "anonymous_id:cursor-anon"))
		e.apply(ev("hc-3", t0.Add(time.Minute), "identify", "anonymous_id:cursor-anon", "user_id:cursor-user"))
		pid := e.profileID("user_id", "cursor-user")
		setConsent(e, map[string]any{"identifier": ident("email", "ann@example.com"), "purpose": "email", "status": "GRANTED"})

		// A real cursor of each list, to pass to the other.
		var real struct {
			Profile struct {
				History        []struct{ Cursor string }
				ConsentHistory []struct{ Cursor string }
			}
		}
		e.query(`query($id:ID!){profile(id:$id){history{cursor} consentHistory{cursor}}}`, map[string]any{"id": pid}, &real)
		if len(real.Profile.History) == 0 || len(real.Profile.ConsentHistory) == 0 {
			t.Fatalf("the profile has no history or consent history: %+v", real.Profile)
		}
		hist, cons := real.Profile.History[0].Cursor, real.Profile.ConsentHistory[0].Cursor
		now := rfc(t0)
		pii := "ann@example.com"

		for _, field := range []struct{ name, query, own, other string }{
			{"history", `query($id:ID!,$c:String){profile(id:$id){history(after:$c){from}}}`, "history", cons},
			{"consentHistory", `query($id:ID!,$c:String){profile(id:$id){consentHistory(after:$c){id}}}`, "consentHistory", hist},
		} {
			cases := []struct{ name, cursor, why string }{
				{"not base64", "%%" + pii, "not base64url"},
				{"not JSON", base64.RawURLEncoding.EncodeToString([]byte("{" + pii)), "malformed"},
				{"unknown version", rawCursor(map[string]any{"v": 2, "k": field.own, "id": "x y z", "t": now}), "unknown version"},
				{"another list", field.other, "another list"},
				{"a journey's", journeyCursor(graph.Event{ID: "test/" + pii, Timestamp: t0}), "another list"},
				{"names nothing", rawCursor(map[string]any{"v": 1, "k": field.own}), "cursor"},
				{"no id", rawCursor(map[string]any{"v": 1, "k": field.own, "t": now}), "cursor"},
				{"no time", rawCursor(map[string]any{"v": 1, "k": field.own, "id": "merge p_a p_b"}), "bad position"},
				{"bad time", rawCursor(map[string]any{"v": 1, "k": field.own, "id": now + " cns_x", "t": pii}), "bad position"},
				{"bad position", rawCursor(map[string]any{"v": 1, "k": field.own, "id": pii, "t": now}), "bad position"},
			}
			for _, c := range cases {
				t.Run(field.name+"/"+c.name, func(t *testing.T) {
					se := *e
					se.t = t
					r := se.post(field.query, map[string]any{"id": pid, "c": c.cursor})
					checkRefused(t, r, CodeInvalidArgument, `"after"`, field.own+" cursor", c.why)
					for _, err := range r.Errors {
						if strings.Contains(err.Message, pii) || strings.Contains(err.Message, c.cursor) || strings.Contains(err.Message, "cursor-") {
							t.Errorf("error %q repeats the cursor or a personal value", err.Message)
						}
					}
				})
			}
			// A cursor of the list itself is taken.
			own := hist
			if field.own == "consentHistory" {
				own = cons
			}
			e.query(field.query, map[string]any{"id": pid, "c": own}, nil)
		}
	})
}
