package audiencetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// profileChangeStrings writes entries as "audience kind profile@minutes".
func profileChangeStrings(cs []audience.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.AudienceID + " " + c.Kind + " " + c.ProfileID + "@" + ago(c.At)
		if c.At.Location() != time.UTC {
			out[i] += " not UTC"
		}
	}
	return out
}

// entry writes one expected entry as profileChangeStrings does.
func entry(n int, kind, pid string, when time.Time) string {
	return fmt.Sprintf("%s %s %s@%s", aid(n), kind, pid, ago(when))
}

// ChangesOf reads the log entries naming some profiles across every
// audience, newest first, ties by audience id, then newest seq first;
// pages with the last entry as cursor; leaves out other profiles' entries
// and those of a deleted audience.
func testChangesOf(t *testing.T, s Store) {
	putAud(t, s, aud(1), aud(2), aud(3), aud(4))
	// aud 1: a in (seq 1); c in, a out (2, 3); a in again at the same time (4).
	apply(t, s, aid(1), []string{"a"}, nil, at(10))
	apply(t, s, aid(1), []string{"c"}, []string{"a"}, at(20))
	apply(t, s, aid(1), []string{"a"}, nil, at(20))
	// aud 2: a and b in (1, 2); a out (3).
	apply(t, s, aid(2), []string{"a", "b"}, nil, at(10))
	apply(t, s, aid(2), nil, []string{"a"}, at(20))
	// aud 3: m (say, a profile merged into a) in, then out at an earlier time.
	apply(t, s, aid(3), []string{"m"}, nil, at(5))
	apply(t, s, aid(3), nil, []string{"m"}, moonLanding)

	ofA := []string{
		entry(1, audience.Entered, "a", at(20)), entry(1, audience.Exited, "a", at(20)), entry(2, audience.Exited, "a", at(20)),
		entry(1, audience.Entered, "a", at(10)), entry(2, audience.Entered, "a", at(10)),
	}
	ofAM := append(slices.Clone(ofA), entry(3, audience.Entered, "m", at(5)), entry(3, audience.Exited, "m", moonLanding))
	read := func(ids []string, p audience.ProfileChangePage) []audience.Change {
		t.Helper()
		cs, err := s.ChangesOf(bg, ids, p)
		must(t, err)
		return cs
	}
	all := audience.ProfileChangePage{Limit: audience.MaxPage}
	for _, c := range []struct {
		ids  []string
		want []string
	}{
		{[]string{"a"}, ofA},
		{[]string{"a", "a"}, ofA},
		{[]string{"m", "a"}, ofAM},
		{[]string{"b"}, []string{entry(2, audience.Entered, "b", at(10))}},
		{[]string{"c", "zz"}, []string{entry(1, audience.Entered, "c", at(20))}},
		{[]string{"zz"}, []string{}},
		{nil, []string{}},
	} {
		if got := profileChangeStrings(read(c.ids, all)); !slices.Equal(got, c.want) {
			t.Fatalf("ChangesOf(%v) = %v, want %v", c.ids, got, c.want)
		}
	}

	// Each entry is the one the audience's own log holds, seq included.
	bySeq := map[string]audience.Change{}
	for _, n := range []int{1, 2, 3} {
		_, cs := changes(t, s, aid(n))
		for _, c := range cs {
			bySeq[fmt.Sprint(c.AudienceID, "/", c.Seq)] = c
		}
	}
	for _, c := range read([]string{"a", "m"}, all) {
		if own, ok := bySeq[fmt.Sprint(c.AudienceID, "/", c.Seq)]; !ok || own != c {
			t.Fatalf("ChangesOf gives %+v; the audience's log holds %+v", c, own)
		}
	}

	// Pages of every size add up to the whole, the cursor being the last
	// entry of the page before, across ties of time and of audience.
	for _, limit := range []int{1, 2, 3} {
		var got []string
		p := audience.ProfileChangePage{Limit: limit}
		for range len(ofAM) + 1 {
			page := read([]string{"a", "m"}, p)
			if len(page) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(page))
			}
			got = append(got, profileChangeStrings(page)...)
			if len(page) < limit {
				break
			}
			last := page[len(page)-1]
			p.After = &last
		}
		if !slices.Equal(got, ofAM) {
			t.Fatalf("pages of %d = %v, want %v", limit, got, ofAM)
		}
	}
	// A cursor that is no entry: what follows it in the order.
	for _, c := range []struct {
		after audience.Change
		want  []string
	}{
		{audience.Change{At: at(15)}, ofAM[3:]},
		{audience.Change{At: at(20), AudienceID: aid(1), Seq: 1000}, ofAM},
		{audience.Change{At: at(20), AudienceID: aid(1) + "0"}, ofAM[2:]},
		{audience.Change{At: at(20), AudienceID: aid(9)}, ofAM[3:]},
		{audience.Change{At: moonLanding}, ofAM[6:]},
		{audience.Change{At: moonLanding.Add(-time.Microsecond)}, []string{}},
	} {
		got := profileChangeStrings(read([]string{"a", "m"}, audience.ProfileChangePage{After: &c.after, Limit: 10}))
		if !slices.Equal(got, c.want) {
			t.Fatalf("after %s %s seq %d: %v, want %v", ago(c.after.At), c.after.AudienceID, c.after.Seq, got, c.want)
		}
	}

	for _, limit := range []int{0, -1, audience.MaxPage + 1} {
		_, err := s.ChangesOf(bg, []string{"a"}, audience.ProfileChangePage{Limit: limit})
		wantCode(t, err, graph.EINVALID, fmt.Sprintf("ChangesOf with limit %d", limit))
	}

	// A deleted audience takes its entries with it.
	apply(t, s, aid(4), []string{"a"}, nil, at(30))
	if got, want := profileChangeStrings(read([]string{"a"}, all)), append([]string{entry(4, audience.Entered, "a", at(30))}, ofA...); !slices.Equal(got, want) {
		t.Fatalf("with audience 4: %v, want %v", got, want)
	}
	ok, err := s.DeleteAudience(bg, aid(4))
	must(t, err)
	if !ok {
		t.Fatal("audience 4 was not stored")
	}
	if got := profileChangeStrings(read([]string{"a"}, all)); !slices.Equal(got, ofA) {
		t.Fatalf("after audience 4 is deleted: %v, want %v", got, ofA)
	}
}
