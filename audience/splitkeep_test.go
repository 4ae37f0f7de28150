package audience_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"pgregory.net/rapid"
)

// projection is what a KeepWrite says about one profile: its facts (in
// order), whether its facts go, and per audience whether it enters and
// whether it exits.
type projection struct {
	facts  []string // the first key of each Facts given for it, in order
	delete int
	enter  map[string]int // by audience id, "/static" added for a static change
	exit   map[string]int
	read   time.Time // what w.Read says of it
}

// project reads w profile by profile, naively.
func project(w audience.KeepWrite) map[string]*projection {
	out := map[string]*projection{}
	of := func(id string) *projection {
		if out[id] == nil {
			out[id] = &projection{enter: map[string]int{}, exit: map[string]int{}}
		}
		return out[id]
	}
	for _, f := range w.Facts {
		p := of(f.ProfileID)
		p.facts = append(p.facts, f.Keys[0])
	}
	for _, id := range w.DeleteFacts {
		of(id).delete++
	}
	for _, c := range w.Changes {
		key := c.AudienceID
		if c.Static {
			key += "/static"
		}
		for _, id := range c.Enter {
			of(id).enter[key]++
		}
		for _, id := range c.Exit {
			of(id).exit[key]++
		}
	}
	// A read of a profile the write says nothing else of checks nothing.
	for id, at := range w.Read {
		if p := out[id]; p != nil {
			p.read = at
		}
	}
	return out
}

// The property: the parts of SplitKeep each name at most n profiles, take
// the profiles in id order without sharing any, say together exactly what
// w says of every profile, keep the audiences in w's order with no empty
// change, and all carry w.At.
func TestSplitKeep(t *testing.T) {
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rapid.Check(t, func(rt *rapid.T) {
		pool := rapid.IntRange(1, 12).Draw(rt, "profiles")
		id := func(label string) string {
			return fmt.Sprintf("p%02d", rapid.IntRange(0, pool-1).Draw(rt, label))
		}
		w := audience.KeepWrite{At: at}
		for i := range rapid.IntRange(0, 10).Draw(rt, "facts") {
			w.Facts = append(w.Facts, audience.Facts{ProfileID: id("fact"), Keys: []string{fmt.Sprintf("email:f%d@ex.com", i)}})
		}
		for range rapid.IntRange(0, 4).Draw(rt, "deletes") {
			w.DeleteFacts = append(w.DeleteFacts, id("delete"))
		}
		for a := range rapid.IntRange(0, 4).Draw(rt, "audiences") {
			c := audience.MembershipChange{AudienceID: fmt.Sprintf("aud-%d", 9-a), Static: rapid.Bool().Draw(rt, "static")} // not in id order
			for range rapid.IntRange(0, 5).Draw(rt, "enter") {
				c.Enter = append(c.Enter, id("enter"))
			}
			for range rapid.IntRange(0, 5).Draw(rt, "exit") {
				c.Exit = append(c.Exit, id("exit"))
			}
			w.Changes = append(w.Changes, c)
		}
		for range rapid.IntRange(0, 12).Draw(rt, "reads") {
			if w.Read == nil {
				w.Read = map[string]time.Time{}
			}
			w.Read[id("read")] = at.Add(time.Duration(rapid.IntRange(1, 1000).Draw(rt, "µs")) * time.Microsecond)
		}
		n := rapid.IntRange(-1, 5).Draw(rt, "n")
		parts := audience.SplitKeep(w, n)

		want := project(w)
		if n < 1 || len(want) <= n {
			if len(parts) != 1 || !reflect.DeepEqual(parts[0], w) {
				rt.Fatalf("n %d, %d profiles: want w alone, got %d parts", n, len(want), len(parts))
			}
			return
		}
		got := map[string]*projection{}
		last := ""
		for i, part := range parts {
			if !part.At.Equal(at) {
				rt.Fatalf("part %d: At %v, want %v", i, part.At, at)
			}
			pp := project(part)
			for id := range part.Read {
				if pp[id] == nil {
					rt.Fatalf("part %d reads %s, of which it says nothing else", i, id)
				}
			}
			if len(pp) == 0 || len(pp) > n {
				rt.Fatalf("part %d names %d profiles, want 1 to %d", i, len(pp), n)
			}
			ids := make([]string, 0, len(pp))
			for id, p := range pp {
				ids = append(ids, id)
				if got[id] != nil {
					rt.Fatalf("profile %s is in two parts", id)
				}
				got[id] = p
			}
			slices.Sort(ids)
			if ids[0] <= last {
				rt.Fatalf("part %d starts at %s, after %s: not in id order", i, ids[0], last)
			}
			last = ids[len(ids)-1]
			// Audiences in w's order, each once, none empty.
			pos := -1
			for _, c := range part.Changes {
				j := slices.IndexFunc(w.Changes, func(x audience.MembershipChange) bool { return x.AudienceID == c.AudienceID })
				if j <= pos {
					rt.Fatalf("part %d: audience %s out of w's order", i, c.AudienceID)
				}
				pos = j
				if len(c.Enter) == 0 && len(c.Exit) == 0 {
					rt.Fatalf("part %d: empty change of %s", i, c.AudienceID)
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			rt.Fatalf("the parts say %v, w says %v", got, want)
		}
	})
}
