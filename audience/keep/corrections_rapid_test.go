package keep_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
	"pgregory.net/rapid"
)

// The property of rapid_test.go, with the corrections that split and join
// profiles by hand (unlinkIdentifiers, mergeProfiles) and erasure
// (forgetProfile) among the operations, and the membership log checked
// too: after every step, each audience's kept members are the naive
// evaluation's, and each profile's ENTERED and EXITED entries alternate,
// starting with ENTERED, the last saying whether it is a member. Once
// profiles split by hand, an event may belong to two people: it counts
// for both, and its properties only for the one holding its
// highest-priority identifier (Shared), which the model here follows.

// cEvent is an event of the model: its identifiers now (erasure takes
// some out) and its total, nil once an erasure took its payload away.
type cEvent struct {
	mEvent
}

// anchor is the highest-priority identifier the event still carries.
func (e *cEvent) anchor() string {
	ks := sortedKeys(e.keys)
	sort.SliceStable(ks, func(i, j int) bool { return priority(ks[i]) < priority(ks[j]) })
	return ks[0]
}

type cModel struct {
	*model
	cevents   []*cEvent
	forbidden map[[2]string]bool // pairs unlinked by hand
}

func pair(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

func (m *cModel) compOf(key string) []string {
	for _, c := range m.components() {
		if slices.Contains(c, key) {
			return c
		}
	}
	return nil
}

// person is model.person with shared events: every event carried by one
// of comp's identifiers counts, its total only where its anchor is.
func (m *cModel) person(comp []string) *person {
	m.model.events = nil
	p := m.model.person(comp)
	for _, e := range m.cevents {
		mine := false
		for k := range e.keys {
			mine = mine || p.keys[k]
		}
		if !mine {
			continue
		}
		ev := e.mEvent
		if !p.keys[e.anchor()] {
			ev.total = nil
		}
		p.events = append(p.events, &ev)
	}
	return p
}

func runCorrections(t *rapid.T, s graph.Store) {
	ctx := context.Background()
	st := s.(audience.Store)
	cs := s.(privacy.ConsentStore)
	eng := graph.NewEngine(s, nil)
	k := newKeeper(eng, st, cs)
	fatal := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	list, err := privacy.OpenSuppressionList(ctx, s.(privacy.SuppressionStore))
	fatal(err)
	eraser := privacy.NewEraser(eng, list)
	auds := putRandomDefinitions(t, ctx, st)

	m := &cModel{model: newModel(), forbidden: map[[2]string]bool{}}
	// A static audience, saved at a drawn step with some of the profiles
	// then live: a member merged away is replaced by the profile its id
	// resolves to, an erased one leaves, and a split keeps the member's
	// id a member (the largest part) and makes no other part one.
	staticID, inStaticID, staticAt := seg(rAudN+1), seg(rAudN+2), -1
	var static map[string]bool
	checkLog := func(step, id string, w []string) {
		t.Helper()
		log, err := st.Changes(ctx, id, audience.ChangePage{Limit: audience.MaxPage})
		fatal(err)
		slices.Reverse(log)
		last := map[string]string{}
		for _, c := range log {
			prev := last[c.ProfileID]
			if (c.Kind == audience.Entered && prev == audience.Entered) || (c.Kind == audience.Exited && prev != audience.Entered) {
				t.Fatalf("%s: audience %s: the log of %s has %s after %q: %+v", step, id, c.ProfileID, c.Kind, prev, log)
			}
			last[c.ProfileID] = c.Kind
		}
		for pid, kind := range last {
			if (kind == audience.Entered) != slices.Contains(w, pid) {
				t.Fatalf("%s: audience %s: the log's last entry of %s is %s; members %v: %+v", step, id, pid, kind, w, log)
			}
		}
		for _, pid := range w {
			if last[pid] != audience.Entered {
				t.Fatalf("%s: audience %s: member %s has no ENTERED last in the log: %+v", step, id, pid, log)
			}
		}
	}
	checkStatic := func(step string) {
		t.Helper()
		if static == nil {
			return
		}
		next := map[string]bool{}
		for id := range static {
			p, err := eng.ProfileByID(ctx, id)
			if graph.ErrorCode(err) == graph.ENOTFOUND {
				continue
			}
			fatal(err)
			next[p.ID] = true
		}
		static = next
		w := sorted(sortedKeys(static)...)
		if got := storedMembers(t, ctx, st, staticID); !reflect.DeepEqual(got, w) {
			t.Fatalf("%s: static audience: members %v, want %v", step, got, w)
		}
		checkLog(step, staticID, w)
		// An audience of the static one's members reads them as the
		// keeper leaves them, in the same round.
		if got := storedMembers(t, ctx, st, inStaticID); !reflect.DeepEqual(got, w) {
			t.Fatalf("%s: inAudience of the static audience: members %v, want %v", step, got, w)
		}
		checkLog(step, inStaticID, w)
	}
	check := func(step string) {
		t.Helper()
		checkStatic(step)
		want := naiveMembers(t, ctx, eng, m.components(), m.person, auds, step+": ")
		for i := range auds {
			w, got := want[i], storedMembers(t, ctx, st, auds[i].ID)
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("%s: audience %d (%s): members %v, the naive evaluation gives %v", step, i, describe(auds[i]), got, w)
			}
			// The log, oldest first: per profile, ENTERED and EXITED
			// alternate from an ENTERED, and the last says membership.
			checkLog(fmt.Sprintf("%s, audience %d (%s)", step, i, describe(auds[i])), auds[i].ID, w)
		}
	}

	live := m.live
	profiles := func(keys []string) []string {
		ids, err := m.profilesOf(ctx, eng, keys)
		fatal(err)
		return ids
	}
	// erase takes keys out of the model as an erasure does: with their
	// links, refusals, traits and consent, and the payload of an event
	// whose anchor they were when its next identifier is another
	// person's.
	erase := func(keys []string) {
		gone := map[string]bool{}
		for _, k := range keys {
			gone[k] = true
		}
		profileOf := map[string]int{}
		for i, c := range m.components() {
			for _, k := range c {
				profileOf[k] = i
			}
		}
		for _, e := range m.cevents {
			a := e.anchor()
			if !gone[a] {
				continue
			}
			ks := sortedKeys(e.keys)
			sort.SliceStable(ks, func(i, j int) bool { return priority(ks[i]) < priority(ks[j]) })
			for _, k := range ks[1:] {
				if !gone[k] {
					if profileOf[k] != profileOf[a] {
						e.total = nil
					}
					break
				}
			}
		}
		for k := range gone {
			delete(m.stored, k)
			m.removed[k] = true
			delete(m.traits, k)
			delete(m.consent, k)
			for l := range m.links {
				if gone[l[0]] || gone[l[1]] {
					delete(m.links, l)
				}
			}
			for l := range m.forbidden {
				if gone[l[0]] || gone[l[1]] {
					delete(m.forbidden, l)
				}
			}
		}
		m.cevents = slices.DeleteFunc(m.cevents, func(e *cEvent) bool {
			for k := range gone {
				delete(e.keys, k)
			}
			return len(e.keys) == 0
		})
	}

	steps := rapid.IntRange(1, 14).Draw(t, "steps")
	staticAt = rapid.IntRange(0, steps).Draw(t, "staticAt")
	for s := 0; s < steps; s++ {
		if s == staticAt {
			// Saved as createLookalikeAudience saves one.
			var ids []string
			for _, comp := range m.components() {
				if rapid.Bool().Draw(t, "static member?") {
					ids = append(ids, profiles(comp[:1])...)
				}
			}
			static = map[string]bool{}
			for _, id := range ids {
				static[id] = true
			}
			fatal(st.PutAudience(ctx, audience.Audience{ID: staticID, Name: "saved", Static: true, CreatedAt: rNow, UpdatedAt: rNow}))
			if len(ids) > 0 {
				stale, err := st.Keep(ctx, audience.KeepWrite{At: rNow, Changes: []audience.MembershipChange{{AudienceID: staticID, Enter: sorted(ids...)}}})
				fatal(err)
				if len(stale) > 0 {
					t.Fatalf("saving the static audience left out %v", stale)
				}
			}
			fatal(st.PutAudience(ctx, audience.Audience{ID: inStaticID, Name: "in saved", Filter: audience.Filter{InAudience: &staticID}, CreatedAt: rNow, UpdatedAt: rNow}))
			fatal(k.RefreshAll(ctx))
		}
		var touched []string
		keys := live()
		if len(keys) == 0 {
			break
		}
		var step string
		switch rapid.IntRange(0, 9).Draw(t, "op") {
		case 0, 1, 2, 3: // an event of one or two identifiers
			a := rapid.SampledFrom(keys).Draw(t, "key")
			evKeys := []string{a}
			if rapid.IntRange(0, 1).Draw(t, "two?") == 0 {
				if b := rapid.SampledFrom(keys).Draw(t, "key2"); b != a {
					evKeys = append(evKeys, b)
				}
			}
			sort.Slice(evKeys, func(i, j int) bool {
				if priority(evKeys[i]) != priority(evKeys[j]) {
					return priority(evKeys[i]) < priority(evKeys[j])
				}
				return evKeys[i] < evKeys[j]
			})
			touched = profiles(evKeys)
			me, ge := m.drawEvent(t, "test/c", evKeys)
			e := &cEvent{*me}
			if len(evKeys) == 2 && !m.forbidden[pair(evKeys[0], evKeys[1])] {
				m.links[pair(evKeys[0], evKeys[1])] = true
			}
			m.cevents = append(m.cevents, e)
			res, err := eng.ApplyBatch(ctx, []graph.Event{ge})
			fatal(err)
			if r := res.Results[0]; r.Status != graph.StatusStored {
				t.Fatalf("event %s: %+v", ge.ID, r)
			}
			touched = append(touched, profiles(evKeys)...)
			step = fmt.Sprintf("step %d, event %v", s, evKeys)
		case 4: // a consent decision
			key := rapid.SampledFrom(keys).Draw(t, "consent.key")
			r := mRecord{
				purpose: "email",
				status:  rapid.SampledFrom([]privacy.Status{privacy.StatusGranted, privacy.StatusDenied, privacy.StatusWithdrawn}).Draw(t, "consent.status"),
				at:      m.tick(rapid.IntRange(0, 5).Draw(t, "consent.age")),
			}
			m.consent[key] = append(m.consent[key], r)
			touched = profiles([]string{key})
			fatal(cs.PutConsent(ctx, []privacy.Record{{ID: privacy.NewRecordID(), Purpose: r.purpose, Status: r.status, At: r.at,
				Source: "test", LegalBasis: privacy.BasisConsent, Identifier: key, ReceivedAt: r.at, Proof: privacy.Proof{Version: "v1"}}}))
			step = fmt.Sprintf("step %d, consent %s %s", s, key, r.status)
		case 5, 6: // unlinkIdentifiers of a direct link
			var links [][2]string
			for l := range m.links {
				links = append(links, l)
			}
			if len(links) == 0 {
				continue
			}
			sort.Slice(links, func(i, j int) bool { return links[i][0]+" "+links[i][1] < links[j][0]+" "+links[j][1] })
			l := rapid.SampledFrom(links).Draw(t, "unlink")
			comp := m.compOf(l[0])
			touched = profiles(comp)
			ps, err := eng.UnlinkIdentifiers(ctx, graph.SplitKey(l[0]), graph.SplitKey(l[1]), "test unlink")
			fatal(err)
			for _, p := range ps {
				touched = append(touched, p.ID)
			}
			delete(m.links, l)
			m.forbidden[l] = true
			touched = append(touched, profiles(comp)...)
			step = fmt.Sprintf("step %d, unlink %v", s, l)
		case 7: // mergeProfiles of two people
			comps := m.components()
			if len(comps) < 2 {
				continue
			}
			i := rapid.IntRange(0, len(comps)-1).Draw(t, "merge.a")
			j := rapid.IntRange(0, len(comps)-1).Draw(t, "merge.b")
			if i == j {
				continue
			}
			a, b := comps[i], comps[j]
			touched = profiles(slices.Concat(a, b))
			p, err := eng.MergeProfiles(ctx, sorted(touched...), "test merge")
			fatal(err)
			touched = append(touched, p.ID)
			top := func(c []string) string {
				ks := slices.Clone(c)
				sort.SliceStable(ks, func(i, j int) bool { return priority(ks[i]) < priority(ks[j]) })
				return ks[0]
			}
			for f := range m.forbidden {
				if (slices.Contains(a, f[0]) && slices.Contains(b, f[1])) || (slices.Contains(b, f[0]) && slices.Contains(a, f[1])) {
					delete(m.forbidden, f)
				}
			}
			m.links[pair(top(a), top(b))] = true
			step = fmt.Sprintf("step %d, merge %v and %v", s, a, b)
		case 8: // forgetProfile
			comps := m.components()
			if len(comps) == 0 {
				continue
			}
			comp := rapid.SampledFrom(comps).Draw(t, "forget")
			touched = profiles(comp)
			hook := func(ctx context.Context, tx graph.Tx, gw *graph.Write, x *graph.Erasure, _ privacy.ErasureReceipt) error {
				_, others, err := audience.ForgetErasureInTx(ctx, tx, gw, x)
				touched = append(touched, others...)
				return err
			}
			_, err := eraser.ForgetProfile(ctx, touched[0], "test erasure", privacy.Requester{}, hook)
			fatal(err)
			// The people who shared an event with the erased one.
			for _, e := range m.cevents {
				for k := range e.keys {
					if slices.Contains(comp, k) {
						for o := range e.keys {
							if !slices.Contains(comp, o) {
								touched = append(touched, profiles([]string{o})...)
							}
						}
					}
				}
			}
			erase(comp)
			step = fmt.Sprintf("step %d, forget %v", s, comp)
		default:
			fatal(k.RefreshAll(ctx))
			check(fmt.Sprintf("step %d, RefreshAll", s))
			continue
		}
		fatal(k.Refresh(ctx, touched))
		check(step)
	}
	fatal(k.RefreshAll(ctx))
	check("the last RefreshAll")
}

func TestKeptThroughCorrectionsEqualsNaiveEmbedded(t *testing.T) { checkEmbedded(t, runCorrections) }

func TestKeptThroughCorrectionsEqualsNaiveNeo4j(t *testing.T) { checkNeo4j(t, runCorrections) }
