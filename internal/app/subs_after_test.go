package app_test

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// A page that reads a profile, then subscribes, misses nothing, on both
// stores: changeCursor, asked with the profile, is the cursor of the
// feed's newest change; profileChanged(after:) with it gets every change
// of the person committed between the read and the subscription (those of
// a profile merged into the person's meanwhile, from before the merge,
// included), then the live ones. A subscription without after starts at
// the change after the ones it missed.
func TestProfileChangedAfterMissesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		track(t, dial, `{"messageId":"m1","anonymousId":"anon-0","event":"Viewed"}`)
		p1 := profileOf(t, dial, "anonymous_id", "anon-0")

		// The page's read. Its cursor, by hand: "feed:" and the Seq of the
		// newest entry, base64url without padding.
		var d struct {
			C string `json:"changeCursor"`
			P struct {
				ID string `json:"id"`
			} `json:"profile"`
		}
		gqlData(t, dial, "", fmt.Sprintf(`{ profile(id: %q) { id } changeCursor }`, p1), &d)
		if want := base64.RawURLEncoding.EncodeToString([]byte("feed:" + strconv.FormatUint(feedHead(t, st), 10))); d.C != want || d.P.ID != p1 {
			t.Fatalf("changeCursor %q and profile %q, want %q (the head) and %q", d.C, d.P.ID, want, p1)
		}
		// Asked through a fragment, and under an alias, it is read as well.
		var f struct{ A, B string }
		gqlData(t, dial, "", `query { ...F b: changeCursor } fragment F on Query { a: changeCursor }`, &f)
		if f.A != d.C || f.B != d.C {
			t.Fatalf("changeCursor through a fragment and an alias: %q and %q, want %q", f.A, f.B, d.C)
		}

		// Between the read and the subscription: an event of the person,
		// someone else's profile, and an event merging the person's into
		// it.
		track(t, dial, `{"messageId":"m2","anonymousId":"anon-0","event":"Viewed"}`)
		track(t, dial, `{"messageId":"m3","anonymousId":"anon-2","userId":"u-2","event":"Viewed"}`)
		p2 := profileOf(t, dial, "user_id", "u-2")
		track(t, dial, `{"messageId":"m4","anonymousId":"anon-0","userId":"u-2","event":"Bought"}`)
		if got := profileOf(t, dial, "anonymous_id", "anon-0"); got != p2 {
			t.Fatalf("after the linking event anon-0 is in %s, want the larger profile %s", got, p2)
		}
		names := map[string]string{p1: "P1", p2: "P2"}

		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("id", fmt.Sprintf(`subscription { profileChanged(id: %q, after: %q) { %s } }`, p1, d.C, changeFields))
		w.subscribe("ident", fmt.Sprintf(`subscription { profileChanged(identifier: {type: "user_id", value: "u-2"}, after: %q) { %s } }`, d.C, changeFields))
		w.subscribe("now", fmt.Sprintf(`subscription { profileChanged(id: %q) { %s } }`, p1, changeFields))
		waitActive(t, svc, 3)
		track(t, dial, `{"messageId":"m5","anonymousId":"anon-0","event":"Viewed"}`)

		// By hand: P1 and P2 are one person now, P1 merged into P2 after
		// the cursor; given by P1's id or by u-2, every change of either
		// after the read, m3 included, then m5.
		person := []string{
			"EVENT_ADDED P1 [] default/m2",
			"EVENT_ADDED P2 [] default/m3",
			"MERGED P2 [P1] -",
			"EVENT_ADDED P2 [] default/m4",
			"EVENT_ADDED P2 [] default/m5",
		}
		for _, c := range []struct {
			id   string
			want []string
		}{{"id", person}, {"ident", person}, {"now", []string{"EVENT_ADDED P2 [] default/m5"}}} {
			for _, want := range c.want {
				if got := w.nextChange(c.id, "profileChanged").short(names); got != want {
					t.Fatalf("profileChanged %s: %s, want %s", c.id, got, want)
				}
			}
		}

		// A cursor that is none, or one past the head, is refused naming
		// after.
		past := base64.RawURLEncoding.EncodeToString([]byte("feed:" + strconv.FormatUint(feedHead(t, st)+5, 10)))
		for i, bad := range []string{"nonsense", past} {
			id := "bad" + strconv.Itoa(i)
			w.subscribe(id, fmt.Sprintf(`subscription { profileChanged(id: %q, after: %q) { cursor } }`, p1, bad))
			if e := w.subError(id); e.Extensions["code"] != "INVALID_ARGUMENT" || !strings.Contains(e.Message, `"after"`) {
				t.Fatalf("profileChanged(after: %q): %+v, want INVALID_ARGUMENT naming after", bad, e)
			}
		}
	})
}

// changeCursor needs profiles:read, as the subscriptions it serves do.
func TestChangeCursorNeedsProfilesRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, key := addKey(t, st, "audiences:read")
		_, dial := startSubs(t, st, app.FeedConfig{}, nil)
		r := gqlPost(t, dial, key, `{ changeCursor }`)
		if r.code() != "FORBIDDEN" || !strings.Contains(r.body, "profiles:read") {
			t.Fatalf("changeCursor without profiles:read: %d %s, want FORBIDDEN naming profiles:read", r.status, r.body)
		}
	})
}

// A profile merged into the followed person and then split off again is
// another person from the split on: profileChanged reports its changes
// from before its merge, the merge and the split, and none after, live or
// read back from a cursor, on both stores. (Reporting them streamed the
// events of someone a correction had just taken out of the person to the
// person's page.)
func TestProfileChangedDropsWhatASplitTakesAway(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		track(t, dial, `{"messageId":"m1","anonymousId":"anon-a","event":"Viewed"}`)
		p := profileOf(t, dial, "anonymous_id", "anon-a")
		track(t, dial, `{"messageId":"m2","anonymousId":"anon-q","userId":"u-q","event":"Viewed"}`)
		q := profileOf(t, dial, "user_id", "u-q")
		var d struct {
			C string `json:"changeCursor"`
		}
		gqlData(t, dial, "", `{ changeCursor }`, &d)

		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("live", fmt.Sprintf(`subscription { profileChanged(id: %q) { %s } }`, p, changeFields))
		waitActive(t, svc, 1)
		track(t, dial, `{"messageId":"m3","anonymousId":"anon-a","event":"Viewed"}`)
		track(t, dial, `{"messageId":"m4","anonymousId":"anon-a","userId":"u-q","event":"Signed in"}`)
		if got := profileOf(t, dial, "anonymous_id", "anon-a"); got != q {
			t.Fatalf("after m4 anon-a is in %s, want the larger profile %s", got, q)
		}
		var u struct {
			U []struct {
				ID string `json:"id"`
			} `json:"unlinkIdentifiers"`
		}
		gqlData(t, dial, "", `mutation { unlinkIdentifiers(a: {type: "user_id", value: "u-q"}, b: {type: "anonymous_id", value: "anon-a"}, reason: "shared laptop") { id } }`, &u)
		if got := profileOf(t, dial, "anonymous_id", "anon-a"); got != p {
			t.Fatalf("after the unlink anon-a is in %s, want its own profile back (%s)", got, p)
		}
		track(t, dial, `{"messageId":"m5","anonymousId":"anon-a","event":"Viewed"}`)
		track(t, dial, `{"messageId":"m6","userId":"u-q","event":"Viewed"}`)
		w.subscribe("after", fmt.Sprintf(`subscription { profileChanged(id: %q, after: %q) { %s } }`, q, d.C, changeFields))
		waitActive(t, svc, 2)
		track(t, dial, `{"messageId":"m7","userId":"u-q","event":"Viewed"}`)

		// By hand: P's m3 (P merges into Q later), the merge, m4, the
		// split giving P back; not m5 (P is someone else by then); m6, m7.
		names := map[string]string{p: "P", q: "Q"}
		want := []string{
			"EVENT_ADDED P [] default/m3",
			"MERGED Q [P] -",
			"EVENT_ADDED Q [] default/m4",
			"SPLIT P [Q] -",
			"EVENT_ADDED Q [] default/m6",
			"EVENT_ADDED Q [] default/m7",
		}
		for _, id := range []string{"live", "after"} {
			for _, wc := range want {
				if got := w.nextChange(id, "profileChanged").short(names); got != wc {
					t.Fatalf("profileChanged %s: %s, want %s", id, got, wc)
				}
			}
		}
	})
}
