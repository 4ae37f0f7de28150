package graphtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// RunCorrections checks identity corrections where they meet history:
// erasure of an identifier that a split gave back, redirect chains of any
// length, and the reads that explain a profile while it is corrected.
func RunCorrections(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"ErasureDropsDigestBehindSplit", testErasureDigestBehindSplit},
		{"ErasureScrubsReasonBehindSplit", testErasureReasonBehindSplit},
		{"ErasureLeavesSplitHistoryOfOthers", testErasureOthersSplitHistory},
		{"LongRedirectChain", func(t *testing.T, open Opener) { testLongRedirectChain(t, open, 70) }},
		{"ExplainWhileCorrecting", testExplainWhileCorrecting},
		{"UnlinkRefusalKeptSideFirst", testUnlinkRefusalKeptSideFirst},
		{"MergeRecordsWhatBatchGave", testMergeRecordsWhatBatchGave},
		{"LinkReplacesRuleRefusal", testLinkReplacesRuleRefusal},
		{"UnlinkRacingIngest", testUnlinkRacingIngest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// X={a1} merges into Y={e1}, Y into P, then an unlink gives X its a1 back
// (a split of P): Y still redirects to P, and the entry of Y's merge into P
// recorded a1. Erasing a1 must drop it from that entry too, as the model
// drops it from every merge's record; else the stale record later gives a
// part holding a1 back to Y where the model makes a new profile.
func testErasureDigestBehindSplit(t *testing.T, open Opener) {
	rules, err := graph.ParseRules([]byte(modelRulesJSON))
	if err != nil {
		t.Fatal(err)
	}
	h := newModelHarness(t, open(t), rules)
	u, e1, e2, a, d := h.ref(graph.TypeUserID, "u1"), h.ref(graph.TypeEmail, "e1"), h.ref(graph.TypeEmail, "e2"), h.ref(graph.TypeAnonymousID, "a1"), h.ref(graph.TypeDeviceID, "d1")
	h.run(t,
		h.ingest(e1), // Y
		h.ingest(a),  // X
		modelOp{kind: "merge", of: []graph.IdentifierRef{a, e1}, reason: "same person"}, // X into Y
		h.ingest(u, e2, d), // P
		modelOp{kind: "merge", of: []graph.IdentifierRef{e1, u}, reason: "same person"}, // Y into P
		unlinkOp(e1, a), // X gets a1 back; Y still redirects to P
		modelOp{kind: "remove", a: a, reason: "erasure"},
	)
	ctx := context.Background()
	pid := h.m.idents[u.Key()]
	hist, err := h.e.History(ctx, []string{pid})
	if err != nil {
		t.Fatal(err)
	}
	gone := graph.MemberDigest(a.Key())
	for _, c := range hist[pid] {
		for _, m := range c.Members {
			if m == gone {
				t.Errorf("after erasing %s, the history entry %s %s->%s still records its digest: %v", a.Key(), c.Kind, c.From, c.Into, c.Members)
			}
		}
	}
	// a1 seen again with e2, then cut off: the part gets a new id, as in
	// the model, not Y's.
	h.run(t, h.ingest(e2, a), unlinkOp(e2, a))
}

// The same shape, with the erased email named by the reason of Y's merge
// into P: forgetIdentifier leaves no copy of it in that history, nor its
// digest.
func testErasureReasonBehindSplit(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	step := 0
	e.Now = func() time.Time { step++; return t0.Add(time.Duration(step) * time.Minute) }
	zoe, crm := email("zoe@example.com"), email("crm@example.com")
	u, p2, d := user("u-1"), phone("+14155550100"), device("dev-1")
	apply(t, e, ev("m1", 1, crm))
	apply(t, e, ev("m2", 2, zoe))
	apply(t, e, ev("m3", 3, u, p2, d))
	if _, err := e.MergeProfiles(ctx, []string{profileOf(t, e, zoe).ID, profileOf(t, e, crm).ID}, "same person"); err != nil {
		t.Fatal(err)
	}
	y := profileOf(t, e, crm).ID
	if _, err := e.MergeProfiles(ctx, []string{y, profileOf(t, e, u).ID}, "zoe@example.com told support this is her account"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.UnlinkIdentifiers(ctx, crm, zoe, "different people"); err != nil {
		t.Fatal(err)
	}
	x := profileOf(t, e, zoe).ID
	if _, err := e.ForgetIdentifier(ctx, zoe, "gdpr request", nil); err != nil {
		t.Fatal(err)
	}
	p := profileOf(t, e, u).ID
	if p == y || p == x {
		t.Fatalf("profiles: p %s, y %s, x %s", p, y, x)
	}
	hist, err := e.History(ctx, []string{p, y})
	if err != nil {
		t.Fatal(err)
	}
	entries := 0
	for _, id := range []string{p, y} {
		for _, c := range hist[id] {
			entries++
			if strings.Contains(c.Reason, "zoe@example.com") {
				t.Errorf("after forgetIdentifier(zoe@example.com), the history of %s still reads %q", id, c.Reason)
			}
			for _, m := range c.Members {
				if m == graph.MemberDigest(zoe.Key()) {
					t.Errorf("after forgetIdentifier(zoe@example.com), the history of %s still records its digest (%s %s->%s)", id, c.Kind, c.From, c.Into)
				}
			}
		}
	}
	if entries == 0 {
		t.Fatalf("no history of %s and %s", p, y)
	}
}

// The history of someone who only shared an event with the erased
// identifier is scrubbed (the README's "Erasure"), but not followed back
// through splits: the profile a part of theirs was split from is another
// person's, whose corrections are not the erased person's.
func testErasureOthersSplitHistory(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	step := 0
	e.Now = func() time.Time { step++; return t0.Add(time.Duration(step) * time.Minute) }
	ann, bob, bobID, rex, q := user("ann-42"), email("bob@example.com"), user("bob-7"), user("rex-1"), email("q@example.com")
	apply(t, e, ev("o1", 1, rex, phone("+14155550111")))
	apply(t, e, ev("o2", 2, q))
	apply(t, e, ev("o3", 3, bob))
	r := profileOf(t, e, rex).ID
	// Rex's profile takes q's with a reason that names Ann's user id.
	if p, err := e.MergeProfiles(ctx, []string{profileOf(t, e, q).ID, r}, "ann-42 vouches for q"); err != nil || p.ID != r {
		t.Fatalf("merge q into %s: %q, %v", r, p.ID, err)
	}
	// And Bob's, until an unlink gives Bob his back (a split of rex's).
	if p, err := e.MergeProfiles(ctx, []string{profileOf(t, e, bob).ID, r}, "same"); err != nil || p.ID != r {
		t.Fatalf("merge bob into %s: %q, %v", r, p.ID, err)
	}
	if _, err := e.UnlinkIdentifiers(ctx, rex, bob, "not the same"); err != nil {
		t.Fatal(err)
	}
	apply(t, e, ev("o4", 4, bob, bobID))
	// Ann and Bob share an event, refused as two user ids: they stay apart.
	apply(t, e, ev("o5", 5, ann))
	apply(t, e, ev("o6", 6, ann, bobID))
	pa, pb := profileOf(t, e, ann).ID, profileOf(t, e, bobID).ID
	if pa == pb || pb == r || profileOf(t, e, q).ID != r {
		t.Fatalf("profiles: ann %s, bob %s, rex %s", pa, pb, r)
	}
	if _, err := e.ForgetIdentifier(ctx, ann, "gdpr", nil); err != nil {
		t.Fatal(err)
	}
	hist, err := e.History(ctx, []string{r})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range hist[r] {
		if c.Kind == graph.ChangeMerge && c.Reason == "manual: ann-42 vouches for q" {
			found = true
		}
	}
	if !found {
		t.Errorf("erasing ann-42, who shared an event with bob, scrubbed the reason of q's merge into rex's profile %s, which bob's was only split from: %+v", r, hist[r])
	}
}

// A person merged again and again while their old identifiers are removed
// makes a redirect chain one longer each time: union by size does not
// bound it, as the profiles stay small. Their first id still answers for
// them, and they can still be erased.
func testLongRedirectChain(t *testing.T, open Opener, n int) {
	e := newEngine(t, open)
	ctx := context.Background()
	h := user("lc-h")
	apply(t, e, ev("lc-0", 0, h, anon("lc-0-1")))
	first := profileOf(t, e, h).ID
	ids := []string{first}
	for i := 1; i <= n; i++ {
		m1, m2, m3 := anon(fmt.Sprintf("lc-%d-1", i)), anon(fmt.Sprintf("lc-%d-2", i)), anon(fmt.Sprintf("lc-%d-3", i))
		apply(t, e, ev(fmt.Sprintf("lc-%d", i), i, m1, m2, m3))
		cur, nw := profileOf(t, e, h).ID, profileOf(t, e, m1).ID
		// The new profile is the larger: the person's moves into it.
		if p, err := e.MergeProfiles(ctx, []string{cur, nw}, "same"); err != nil || p.ID != nw {
			t.Fatalf("step %d: merge %s into %s: got %q, %v", i, cur, nw, p.ID, err)
		}
		ids = append(ids, nw)
		for _, r := range []graph.IdentifierRef{anon(fmt.Sprintf("lc-%d-1", i-1)), m2, m3} {
			if _, err := e.RemoveIdentifier(ctx, r, "cleanup"); err != nil {
				t.Fatalf("step %d: remove %s: %v", i, r.Key(), err)
			}
		}
	}
	live := profileOf(t, e, h).ID
	if live != ids[n] {
		t.Fatalf("the person is in %s, want %s", live, ids[n])
	}
	got, err := e.ProfilesByIDs(ctx, ids)
	if err != nil {
		t.Fatalf("profiles of the %d ids of a chain: %v", len(ids), err)
	}
	for _, id := range ids {
		if got[id].ID != live {
			t.Errorf("profile(%s) = %q, want %s", id, got[id].ID, live)
		}
	}
	if p, err := e.ProfileByID(ctx, first); err != nil || p.ID != live {
		t.Errorf("profile(%s), the person's first id, after %d merges: %q, %v", first, n, p.ID, err)
	}
	if _, err := e.ForgetProfile(ctx, live, "gdpr", nil); err != nil {
		t.Fatalf("forgetProfile(%s), the person's live id: %v", live, err)
	}
	for _, id := range []string{first, ids[n/2], live} {
		if _, err := e.ProfileByID(ctx, id); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Errorf("profile(%s) after forgetProfile: %v, want not found", id, err)
		}
	}
}

// explainLink and identityGraph answer what one state of the store held,
// even while another writer merges and unlinks the pair over and over (a
// store whose reads are not one snapshot must not mix two states). A
// bounded number of rounds, each answer checked: the test does not depend
// on timing, though a race shows only when a write lands between reads.
func testExplainWhileCorrecting(t *testing.T, open Opener) {
	const rounds = 300
	e := newEngine(t, open)
	ctx := context.Background()
	u, m := user("xr-u"), email("xr-e@example.com")
	apply(t, e, ev("x1", 1, u, anon("xr-a")), ev("x2", 2, m))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var cycles atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			pu, err := e.ProfileByIdentifier(ctx, u)
			if err != nil {
				t.Error(err)
				return
			}
			pm, err := e.ProfileByIdentifier(ctx, m)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := e.MergeProfiles(ctx, []string{pu.ID, pm.ID}, "same"); err != nil {
				t.Error(err)
				return
			}
			if _, err := e.UnlinkIdentifiers(ctx, u, m, "not the same"); err != nil {
				t.Error(err)
				return
			}
			cycles.Add(1)
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()
	// Rounds start once the writer is under way, and go on (up to ten
	// times as many) until it has done a few cycles meanwhile.
	for cycles.Load() == 0 && !t.Failed() {
		time.Sleep(time.Millisecond)
	}
	var linked, apart, busy int
	for i := 0; (i < rounds || cycles.Load() < 20) && i < 10*rounds && !t.Failed(); i++ {
		ex, err := e.ExplainLink(ctx, u, m)
		switch {
		case graph.ErrorCode(err) == graph.ECONFLICT:
			busy++ // changed on every attempt to read it: an answer, not a contradiction
		case err != nil:
			t.Fatalf("explainLink: %v", err)
		case ex.Linked:
			linked++
			if ex.ProfileA != ex.ProfileB {
				t.Errorf("explainLink says linked, in profiles %s and %s", ex.ProfileA, ex.ProfileB)
			}
			if len(ex.Path) == 0 {
				t.Errorf("explainLink says linked (profile %s) with no path", ex.ProfileA)
			}
			for j, st := range ex.Path {
				if (j == 0 && st.From != u.Key()) || (j == len(ex.Path)-1 && st.To != m.Key()) || (j > 0 && st.From != ex.Path[j-1].To) {
					t.Errorf("explainLink path is not a chain from %s to %s: %+v", u.Key(), m.Key(), ex.Path)
				}
			}
		default:
			apart++
			if ex.ProfileA == ex.ProfileB {
				t.Errorf("explainLink says not linked within one profile %s", ex.ProfileA)
			}
		}
		id := ex.ProfileA
		if id == "" {
			id = profileOf(t, e, u).ID
		}
		g, err := e.IdentityGraph(ctx, id)
		switch {
		case graph.ErrorCode(err) == graph.ECONFLICT:
			busy++
			continue
		case err != nil:
			t.Fatalf("identityGraph(%s): %v", id, err)
		}
		checkGraphView(t, g)
	}
	t.Logf("%d merge/unlink cycles meanwhile; %d answers linked, %d apart, %d reads that kept changing", cycles.Load(), linked, apart, busy)
	if busy > rounds {
		t.Errorf("%d of %d reads found the pair changed on every attempt", busy, 2*rounds)
	}
}

// checkGraphView checks that g is one profile's graph: its members are
// one component over its links, no link leaves them, and the nodes of
// refused links outside it belong to other profiles.
func checkGraphView(t *testing.T, g graph.GraphView) {
	t.Helper()
	inside := map[string]bool{}
	parent := map[string]string{}
	for _, n := range g.Nodes {
		if n.ProfileID == g.ProfileID {
			inside[n.Key] = true
			parent[n.Key] = n.Key
		}
	}
	if len(inside) == 0 {
		t.Errorf("identityGraph(%s) lists no member: %+v", g.ProfileID, g.Nodes)
		return
	}
	var find func(k string) string
	find = func(k string) string {
		if parent[k] != k {
			parent[k] = find(parent[k])
		}
		return parent[k]
	}
	parts := len(inside)
	for _, l := range g.Links {
		if !inside[l.A] || !inside[l.B] {
			t.Errorf("identityGraph(%s) has link %s-%s to a node it does not list as a member", g.ProfileID, l.A, l.B)
			continue
		}
		if a, b := find(l.A), find(l.B); a != b {
			parent[a] = b
			parts--
		}
	}
	if parts != 1 {
		t.Errorf("identityGraph(%s): its %d members are %d parts over its links", g.ProfileID, len(inside), parts)
	}
}

// A refusal's A is the side that kept its profile and B the side that was
// refused, whichever order unlinkIdentifiers was given its identifiers in.
// One event starts P with A's user id and B's anonymous id; cutting their
// link splits P into two parts of one identifier each, and the part with
// the highest-priority identifier, the user id, keeps P (rule 5). So the
// refusal reads user_id:A kept, anonymous_id:B refused, though the
// unlink named the anonymous id first.
func testUnlinkRefusalKeptSideFirst(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	apply(t, e, ev("e1", 1, user("A"), anon("B")))
	p := profileOf(t, e, user("A"))
	if _, err := e.UnlinkIdentifiers(ctx, anon("B"), user("A"), "shared browser"); err != nil {
		t.Fatal(err)
	}
	if got := profileOf(t, e, user("A")).ID; got != p.ID {
		t.Fatalf("user_id:A is in %s after the split, want %s (the part with the highest-priority identifier)", got, p.ID)
	}
	if got := profileOf(t, e, anon("B")).ID; got == p.ID {
		t.Fatalf("anonymous_id:B kept %s; want a new profile", got)
	}
	for _, ask := range [][2]graph.IdentifierRef{{user("A"), anon("B")}, {anon("B"), user("A")}} {
		ex, err := e.ExplainLink(ctx, ask[0], ask[1])
		if err != nil {
			t.Fatal(err)
		}
		if ex.Linked || len(ex.Rejected) != 1 {
			t.Fatalf("explanation after the unlink = %+v, want one refusal", ex)
		}
		r := ex.Rejected[0]
		if r.Source != graph.SourceManual || r.A != "user_id:A" || r.B != "anonymous_id:B" {
			t.Fatalf("refusal = %s %s -> %s, want manual user_id:A (kept its profile) -> anonymous_id:B (refused)", r.Source, r.A, r.B)
		}
	}
}

// A profile that gains an identifier in a batch and is merged away later
// in the same batch held that identifier when it was merged: the merge
// records it (README, Identity resolution, rule 4), as it would had each
// event come in a batch of its own, and a later split gives the profile's
// id back to the part holding it (rule 5).
//
// Q = {u, e} is older than P = {a}. One batch: {a, x} (x new, a device id,
// so x anchors; P, older than x's new profile, takes x), then {u, a} (P
// and Q both hold 2; Q is older and takes P). P held {a, x} when merged.
// Removing a leaves Q {u, e} and {x}: the part {x} shares x with what P
// held, so it gets P's id back.
func testMergeRecordsWhatBatchGave(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	step := 0
	e.Now = func() time.Time { step++; return t0.Add(time.Duration(step) * time.Minute) }
	u, em, a, x := user("mb-u"), email("mb-e@example.com"), anon("mb-a"), device("mb-x")
	apply(t, e, ev("mb-1", 1, u, em))
	apply(t, e, ev("mb-2", 2, a))
	q, p := profileOf(t, e, u).ID, profileOf(t, e, a).ID
	apply(t, e, ev("mb-3", 3, a, x), ev("mb-4", 4, u, a))
	if got := profileOf(t, e, x).ID; got != q {
		t.Fatalf("after the batch, %s is in %s, want Q %s", x.Key(), got, q)
	}
	hist, err := e.History(ctx, []string{p})
	if err != nil {
		t.Fatal(err)
	}
	want := sorted(graph.MemberDigest(a.Key()), graph.MemberDigest(x.Key()))
	var merges int
	for _, c := range hist[p] {
		if c.Kind != graph.ChangeMerge || c.From != p {
			continue
		}
		merges++
		if c.Into != q || !same(c.Members, want) {
			t.Errorf("P's merge records %s->%s members %v, want into Q %s with %v (the digests of %s and %s, which P held)", c.From, c.Into, c.Members, q, want, a.Key(), x.Key())
		}
	}
	if merges != 1 {
		t.Fatalf("history of P %s holds %d merges, want 1: %+v", p, merges, hist[p])
	}
	if _, err := e.RemoveIdentifier(ctx, a, "typo"); err != nil {
		t.Fatal(err)
	}
	if got := profileOf(t, e, u).ID; got != q {
		t.Errorf("%s is in %s after the removal, want Q %s", u.Key(), got, q)
	}
	if got := profileOf(t, e, x).ID; got != p {
		t.Errorf("%s is in %s after the removal, want P's id %s back (P held it when merged)", x.Key(), got, p)
	}
	if got, err := e.ProfileByID(ctx, p); err != nil || got.ID != p || got.Size != 1 {
		t.Errorf("profile(P %s) answers %+v, %v; want P itself, holding %s", p, got, err, x.Key())
	}
}

// A refusal by the rules says why a pair was not linked when it was sent.
// Once the limit allows it (here after removeIdentifier takes away what
// blocked it) and an event links the pair, the refusal is no longer true:
// the link replaces it, so the identity graph does not show the pair both
// linked and refused. A person's refusal (unlinkIdentifiers) is not
// touched: no event links its pair.
//
// user_id's limit is 1: {A, X} then {B, X} refuses B-X (X's profile holds
// A). Removing A leaves X alone; {B, X} again links B and X.
func testLinkReplacesRuleRefusal(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	apply(t, e, ev("e1", 1, user("A"), anon("X")))
	apply(t, e, ev("e2", 2, user("B"), anon("X")))
	refusals := func(when string, want []string) {
		t.Helper()
		p := profileOf(t, e, user("B"))
		g, err := e.IdentityGraph(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range g.Rejected {
			got = append(got, r.Source+" "+r.A+" "+r.B)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: refusals of user_id:B's profile = %v, want %v", when, got, want)
		}
	}
	refusals("after {B, X}", []string{"rules user_id:B anonymous_id:X"})
	if _, err := e.RemoveIdentifier(ctx, user("A"), "wrong account"); err != nil {
		t.Fatal(err)
	}
	apply(t, e, ev("e3", 3, user("B"), anon("X"), email("b@example.com")))
	if got, want := members(t, e, profileOf(t, e, user("B")).ID), sorted("user_id:B", "anonymous_id:X", "email:b@example.com"); !same(got, want) {
		t.Fatalf("members after {B, X} again = %v, want %v", got, want)
	}
	refusals("after {B, X} linked", nil)
	// A person's refusal stays: unlinking X from B, then sending the pair
	// again, keeps the refusal and makes no link.
	if _, err := e.UnlinkIdentifiers(ctx, user("B"), anon("X"), "shared browser"); err != nil {
		t.Fatal(err)
	}
	apply(t, e, ev("e4", 4, user("B"), anon("X")))
	refusals("after an unlink and {B, X} again", []string{"manual user_id:B anonymous_id:X"})
}
