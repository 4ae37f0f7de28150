package privacy

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"pgregory.net/rapid"
)

var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func mins(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func rec(id, purpose string, st Status, at, received int) Record {
	return Record{ID: "cns_" + id, Purpose: purpose, Status: st, At: mins(at), ReceivedAt: mins(received), Source: "src-" + id, Identifier: "email:ann@example.com"}
}

func TestConsentStateOf(t *testing.T) {
	a1 := rec("a1", "advertising", StatusGranted, 0, 1)
	a2 := rec("a2", "advertising", StatusDenied, -60, 120) // decided earlier, received later
	a3 := rec("a3", "advertising", StatusWithdrawn, 0, 5)  // same decision time, received later
	a4 := rec("a4", "advertising", StatusGranted, 0, 5)    // same times again, greater id
	a4.Identifier = "user_id:u1"                           // another identifier of the profile
	e1 := rec("e1", "email", StatusGranted, 30, 30)
	now := mins(10)

	cases := []struct {
		name    string
		records []Record
		want    string // the id behind the state
		state   State
	}{
		{"one record", []Record{a1}, "cns_a1", StateGranted},
		{"by decision time, not arrival", []Record{a2, a1}, "cns_a1", StateGranted},
		{"by decision time, whatever the order", []Record{a1, a2}, "cns_a1", StateGranted},
		{"a tie on at goes to the later arrival", []Record{a1, a3, a2}, "cns_a3", StateWithdrawn},
		{"a tie on both goes to the greater id", []Record{a4, a3, a1}, "cns_a4", StateGranted},
		{"and the other way round", []Record{a3, a4, a1}, "cns_a4", StateGranted},
		{"other purposes ignored", []Record{e1, a2}, "cns_a2", StateDenied},
	}
	for _, c := range cases {
		got := StateOf(c.records, "advertising", now)
		if got.Purpose != "advertising" || got.State != c.state || got.Record == nil || got.Record.ID != c.want {
			t.Errorf("%s: StateOf = %+v, want %s from %s", c.name, got, c.state, c.want)
			continue
		}
		if got.At != got.Record.At || got.Source != "src-"+strings.TrimPrefix(c.want, "cns_") {
			t.Errorf("%s: at %v source %q do not come from the record", c.name, got.At, got.Source)
		}
	}

	if got := StateOf([]Record{e1}, "advertising", now); got.State != StateUnknown || got.Record != nil || !got.At.IsZero() || got.Source != "" || got.Purpose != "advertising" {
		t.Errorf("no record: %+v, want UNKNOWN", got)
	}
	if got := StateOf(nil, "sms", now); got.State != StateUnknown || got.Purpose != "sms" {
		t.Errorf("nil records: %+v", got)
	}

	// Record points to a copy: the caller's slice is not reachable through it.
	in := []Record{a1}
	got := StateOf(in, "advertising", now)
	got.Record.Status = StatusDenied
	if in[0].Status != StatusGranted {
		t.Error("StateOf's Record aliases the caller's slice")
	}
}

func TestConsentStateOfExpiry(t *testing.T) {
	g := rec("g", "sms", StatusGranted, 0, 0)
	g.ExpiresAt = mins(60)
	d := rec("d", "sms", StatusDenied, 0, 0)
	d.ExpiresAt = mins(60)
	w := rec("w", "sms", StatusWithdrawn, 0, 0)
	w.ExpiresAt = mins(60)
	cases := []struct {
		r     Record
		now   time.Time
		state State
	}{
		{g, mins(60).Add(-time.Microsecond), StateGranted},
		{g, mins(60), StateExpired}, // ExpiresAt is the first instant it no longer counts
		{g, mins(61), StateExpired},
		{g, mins(-5), StateGranted}, // a clock before the decision changes nothing
		{d, mins(61), StateDenied},  // a denial does not expire
		{w, mins(61), StateWithdrawn},
	}
	for _, c := range cases {
		got := StateOf([]Record{c.r}, "sms", c.now)
		if got.State != c.state || got.Record == nil || got.Record.ID != c.r.ID {
			t.Errorf("%s at %v: state %+v, want %s", c.r.ID, c.now, got, c.state)
		}
	}
	// An expired grant is not hidden behind an older, unexpired one.
	old := rec("old", "sms", StatusGranted, -60, -60)
	if got := StateOf([]Record{old, g}, "sms", mins(61)); got.State != StateExpired || got.Record.ID != "cns_g" {
		t.Errorf("newest expired grant: %+v, want EXPIRED from cns_g", got)
	}
}

func TestConsentStates(t *testing.T) {
	p := defaultPurposes(t)
	records := []Record{
		rec("1", "email", StatusGranted, 0, 0),
		rec("2", "email", StatusWithdrawn, 5, 5),
		rec("3", "advertising", StatusDenied, 1, 1),
		rec("4", "retired", StatusGranted, 9, 9), // a purpose the rules no longer list
	}
	got := States(records, p, mins(10))
	want := []struct {
		purpose string
		state   State
		id      string
	}{
		{"analytics", StateUnknown, ""},
		{"personalization", StateUnknown, ""},
		{"advertising", StateDenied, "cns_3"},
		{"email", StateWithdrawn, "cns_2"},
		{"sms", StateUnknown, ""},
		{"push", StateUnknown, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("States gave %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		id := ""
		if got[i].Record != nil {
			id = got[i].Record.ID
		}
		if got[i].Purpose != w.purpose || got[i].State != w.state || id != w.id {
			t.Errorf("States[%d] = %s %s %q, want %s %s %q", i, got[i].Purpose, got[i].State, id, w.purpose, w.state, w.id)
		}
	}
}

func TestConsentHistory(t *testing.T) {
	records := []Record{
		rec("b", "email", StatusGranted, 0, 2),
		rec("c", "sms", StatusDenied, 3, 3),
		rec("a", "email", StatusDenied, 0, 2),
		rec("d", "email", StatusWithdrawn, 1, 1),
		rec("e", "email", StatusGranted, 0, 1),
	}
	ids := func(rs []Record) string {
		var s []string
		for _, r := range rs {
			s = append(s, strings.TrimPrefix(r.ID, "cns_"))
		}
		return strings.Join(s, ",")
	}
	if got := ids(History(records, "email")); got != "d,b,a,e" {
		t.Errorf("History(email) = %s, want d,b,a,e", got)
	}
	if got := ids(History(records, "")); got != "c,d,b,a,e" {
		t.Errorf("History(all) = %s, want c,d,b,a,e", got)
	}
	if got := History(records, "push"); got == nil || len(got) != 0 {
		t.Errorf("History(push) = %#v, want an empty list", got)
	}
	if got := ids(records); got != "b,c,a,d,e" {
		t.Errorf("History reordered its input: %s", got)
	}
}

// byDocumentedOrder is the reference ordering, written apart from Compare:
// At, then ReceivedAt, then ID.
func byDocumentedOrder(rs []Record) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		if !a.ReceivedAt.Equal(b.ReceivedAt) {
			return a.ReceivedAt.Before(b.ReceivedAt)
		}
		return a.ID < b.ID
	})
}

// referenceState is the state rule done naively: keep the purpose's
// records, sort them, take the last.
func referenceState(records []Record, purpose string, now time.Time) (State, string) {
	var mine []Record
	for _, r := range records {
		if r.Purpose == purpose {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 {
		return StateUnknown, ""
	}
	byDocumentedOrder(mine)
	last := mine[len(mine)-1]
	if last.Status == StatusGranted && !last.ExpiresAt.IsZero() {
		if now.Equal(last.ExpiresAt) || now.After(last.ExpiresAt) {
			return StateExpired, last.ID
		}
	}
	switch last.Status {
	case StatusGranted:
		return StateGranted, last.ID
	case StatusDenied:
		return StateDenied, last.ID
	default:
		return StateWithdrawn, last.ID
	}
}

func TestConsentStateProperty(t *testing.T) {
	p, err := NewPurposes(graph.ConsentRules{Purposes: []string{"email", "sms", "analytics"}})
	if err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 25).Draw(t, "n")
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		// Ids are unique, as in a ledger, but come in any order.
		order = rapid.Permutation(order).Draw(t, "ids")
		records := make([]Record, n)
		for i := range records {
			at := rapid.IntRange(0, 4).Draw(t, "at") // few values: many ties
			r := Record{
				ID:         fmt.Sprintf("cns_%032x", order[i]),
				Purpose:    rapid.SampledFrom([]string{"email", "sms", "analytics", "retired"}).Draw(t, "purpose"),
				Status:     rapid.SampledFrom([]Status{StatusGranted, StatusDenied, StatusWithdrawn}).Draw(t, "status"),
				At:         mins(at),
				ReceivedAt: mins(at + rapid.IntRange(0, 2).Draw(t, "delay")),
				Source:     "s",
			}
			if rapid.Bool().Draw(t, "expires") {
				r.ExpiresAt = mins(at + rapid.IntRange(1, 5).Draw(t, "ttl"))
			}
			records[i] = r
		}
		now := mins(rapid.IntRange(0, 8).Draw(t, "now"))
		purpose := rapid.SampledFrom([]string{"email", "sms", "analytics", "retired", "push"}).Draw(t, "asked")

		check := func(got ConsentState, purpose string) {
			state, id := referenceState(records, purpose, now)
			gotID := ""
			if got.Record != nil {
				gotID = got.Record.ID
				if !got.At.Equal(got.Record.At) || got.Source != got.Record.Source {
					t.Fatalf("%s: at/source %v %q differ from the record's", purpose, got.At, got.Source)
				}
			}
			if got.Purpose != purpose || got.State != state || gotID != id {
				t.Fatalf("%s at %v: got %s from %q, want %s from %q", purpose, now, got.State, gotID, state, id)
			}
		}
		check(StateOf(records, purpose, now), purpose)

		states := States(records, p, now)
		if len(states) != 3 {
			t.Fatalf("States gave %d entries, want 3", len(states))
		}
		for i, purpose := range []string{"email", "sms", "analytics"} {
			check(states[i], purpose)
		}

		// History is the reference order, reversed.
		var want []Record
		for _, r := range records {
			if r.Purpose == purpose {
				want = append(want, r)
			}
		}
		byDocumentedOrder(want)
		hist := History(records, purpose)
		if len(hist) != len(want) {
			t.Fatalf("History has %d records, want %d", len(hist), len(want))
		}
		for i := range hist {
			if hist[i].ID != want[len(want)-1-i].ID {
				t.Fatalf("History[%d] = %s, want %s", i, hist[i].ID, want[len(want)-1-i].ID)
			}
		}
	})
}
