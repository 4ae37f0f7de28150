package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The verdict compares the last sample with the first at or after the
// warm-up, worked by hand here.
func TestSoakJudge(t *testing.T) {
	mib := int64(1 << 20)
	samples := func(pairs ...[3]float64) []SoakSample {
		var out []SoakSample
		for _, p := range pairs {
			out = append(out, SoakSample{Seconds: p[0], RSSAnonBytes: int64(p[1]) * mib, RSSFileBytes: 7 * mib, Goroutines: int(p[2])})
		}
		return out
	}
	for _, c := range []struct {
		name        string
		s           []SoakSample
		judged, met bool
		rss, gor    float64
	}{
		{"flat", samples([3]float64{0, 40, 10}, [3]float64{60, 90, 20}, [3]float64{120, 100, 20}, [3]float64{300, 105, 20}, [3]float64{600, 104, 20}), true, true, 0.04, 0},
		{"memory grows", samples([3]float64{0, 40, 10}, [3]float64{120, 100, 20}, [3]float64{600, 130, 20}), true, false, 0.30, 0},
		{"goroutines leak", samples([3]float64{0, 40, 10}, [3]float64{150, 100, 20}, [3]float64{600, 100, 40}), true, false, 0, 1},
		{"memory shrinks a lot", samples([3]float64{125, 200, 20}, [3]float64{600, 100, 20}), true, false, -0.5, 0},
		{"too short", samples([3]float64{0, 40, 10}, [3]float64{60, 90, 20}, [3]float64{119, 100, 20}), false, false, 0, 0},
		{"warm-up sample is the last", samples([3]float64{0, 40, 10}, [3]float64{120, 100, 20}), false, false, 0, 0},
	} {
		r := &SoakResult{Samples: c.s}
		r.judge()
		if r.Judged != c.judged || r.Met() != c.met || abs(r.RSSDrift-c.rss) > 1e-9 || abs(r.GoroutineDrift-c.gor) > 1e-9 {
			t.Errorf("%s: judged %v met %v drifts %v / %v; want %v %v %v / %v", c.name, r.Judged, r.Met(), r.RSSDrift, r.GoroutineDrift, c.judged, c.met, c.rss, c.gor)
		}
	}
}

// A short soak on the embedded store samples the running service and
// acknowledges every message it sends.
func TestSoakEmbedded(t *testing.T) {
	var seen []SoakSample
	res, err := Soak(context.Background(), SoakConfig{
		Bench:    Config{Store: StoreEmbedded, Clients: 2, Batch: 10, TempDir: t.TempDir()},
		Duration: 3 * time.Second, Rate: 200, LookupRate: 10, Every: time.Second, Seed: 3,
		OnSample: func(s SoakSample) { seen = append(seen, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) < 3 || len(seen) != len(res.Samples) {
		t.Fatalf("%d samples (%d passed to OnSample), want at least 3 over 3 s at one a second", len(res.Samples), len(seen))
	}
	for i := 1; i < len(res.Samples); i++ {
		a, b := res.Samples[i-1], res.Samples[i]
		if b.Seconds <= a.Seconds || b.Sent < a.Sent || b.Lookups < a.Lookups {
			t.Fatalf("sample %d %+v does not follow %+v", i, b, a)
		}
	}
	last := res.Samples[len(res.Samples)-1]
	if last.Sent == 0 || last.Lookups == 0 || last.RSSBytes <= 0 || last.RSSAnonBytes <= 0 || last.Goroutines <= 0 {
		t.Fatalf("last sample %+v: nothing sent, looked up or measured", last)
	}
	// The rate is a ceiling the soak never passes: by any sample, at most
	// 200 messages a second since the start plus the limiter's burst of
	// 20 (a tenth of the rate). Unpaced, two clients send thousands in
	// 3 s.
	for _, smp := range res.Samples {
		if limit := 200*smp.Seconds + 20; float64(smp.Sent) > limit {
			t.Errorf("sample at %.2f s: %d messages sent, over the %.0f a rate of 200/s allows", smp.Seconds, smp.Sent, limit)
		}
	}
	if res.Judged {
		t.Fatal("a 3-second soak was judged; the warm-up alone is 2 minutes")
	}
	if _, err := Soak(context.Background(), SoakConfig{Bench: Config{Store: StoreEmbedded}, Duration: time.Hour, Rate: 1e6, Every: time.Second}); err == nil {
		t.Fatal("a soak of 3.6 billion messages was accepted")
	}
}

// A soak lookup is answered only with status 200 and no GraphQL error
// (GraphQL answers its errors under 200).
func TestSoakLookupAnswered(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		ok     bool
	}{
		{200, `{"data":{"profileByIdentifier":{"id":"p_1"}}}`, true},
		{200, `{"data":{"profileByIdentifier":null}}`, true},
		{200, `{"errors":[{"message":"argument \"value\" is not a usable user_id value: blocked"}],"data":{"profileByIdentifier":null}}`, false},
		{200, `not json`, false},
		{503, `{"errors":[{"message":"store unavailable"}]}`, false},
	} {
		if err := lookupAnswered(c.status, []byte(c.body)); (err == nil) != c.ok {
			t.Errorf("%d %s: %v, want answered %v", c.status, c.body, err, c.ok)
		}
	}
}

// The soak looks up only user ids the rules keep: the population carries
// placeholders ("0", "null", ...) as user ids, which the service refuses
// to look up.
func TestSoakUsersLeaveOutPlaceholders(t *testing.T) {
	ds := generate(t, GenConfig{People: 2000, Seed: 138})
	placeholder := func(u string) bool {
		switch strings.ToLower(u) {
		case "0", "-1", "null", "undefined", "none", "nan", "n/a":
			return true
		}
		return false
	}
	sent := 0
	for _, m := range ds.Messages {
		for _, p := range []string{"0", "-1", "null", "undefined", "none", "nan", "n/a"} {
			if strings.Contains(string(m), `"userId":"`+p+`"`) {
				sent++
			}
		}
	}
	if sent == 0 {
		t.Fatal("the population sends no placeholder user id: the test proves nothing")
	}
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	users := soakUsers(ds.Messages, rules)
	if len(users) == 0 {
		t.Fatal("no user id to look up")
	}
	for _, u := range users {
		if placeholder(u) {
			t.Fatalf("the soak looks up the placeholder user id %q (%d messages send one)", u, sent)
		}
	}
}
