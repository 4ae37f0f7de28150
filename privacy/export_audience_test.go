package privacy_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// audienceLog returns an export's audience log records as "audience kind
// profile@minutes name", after checking each one's kind, time zone and
// number, and that within an audience the numbers fall newest first.
func audienceLog(t *testing.T, recs []any, names map[string]string) []string {
	t.Helper()
	out := []string{}
	lastSeq := map[string]uint64{}
	for _, v := range recs {
		c, ok := v.(privacy.ExportAudienceChange)
		if !ok {
			t.Fatalf("an audience log record is a %T", v)
		}
		if c.Kind != privacy.KindAudienceChange || c.Seq == 0 || c.At.Location() != time.UTC {
			t.Errorf("audience log record %+v: want kind %s, a seq and a UTC time", c, privacy.KindAudienceChange)
		}
		if last, ok := lastSeq[c.Audience]; ok && c.Seq >= last {
			t.Errorf("audience %s: seq %d after %d, want newest first", c.Audience, c.Seq, last)
		}
		lastSeq[c.Audience] = c.Seq
		out = append(out, fmt.Sprintf("%s %s %s@%d %s", names[c.Audience], c.Change, c.ProfileID, int(c.At.Sub(t0)/time.Minute), c.Name))
	}
	return out
}

// An export lists every entry of the audiences' logs naming the person:
// the entries and exits of their profile and of a profile merged into it
// (whose entries stay under its old id), newest first (ties by audience
// id), each with the audience's name; none of another person's, and
// another person's export none of theirs. An entry logged after Prepare is
// left out; an audience deleted between Prepare and Write fails the Write
// (ECONFLICT). The records are read a page at a time, whatever the page.
func TestExportAudienceChanges(t *testing.T) {
	for _, page := range []int{2, privacy.ExportPage} {
		t.Run(fmt.Sprint("page", page), func(t *testing.T) {
			defer privacy.SetChangePage(page)()
			storetest.Each(t, func(t *testing.T, st graph.Store) { testExportAudienceChanges(t, st) })
		})
	}
}

func testExportAudienceChanges(t *testing.T, st graph.Store) {
	eng := graph.NewEngine(st, nil)
	ctx := context.Background()
	as, ok := st.(audience.Store)
	if !ok {
		t.Fatalf("%T keeps no audiences", st)
	}
	// Ann (two identifiers) absorbs the anonymous profile m (one).
	apply(t, eng, event("test/a1", t0, nil, "user_id:ann", "email:ann@example.com"))
	apply(t, eng, event("test/m1", t0.Add(time.Second), nil, "anonymous_id:anon-m"))
	m := profileOf(t, eng, "anonymous_id:anon-m")
	apply(t, eng, event("test/a2", t0.Add(2*time.Second), nil, "anonymous_id:anon-m", "user_id:ann"))
	apply(t, eng, event("test/b1", t0, nil, "user_id:bob"))
	ann, bob := profileOf(t, eng, "user_id:ann"), profileOf(t, eng, "user_id:bob")
	if m == ann || profileOf(t, eng, "anonymous_id:anon-m") != ann || bob == ann {
		t.Fatalf("profiles: ann %s, m %s, bob %s; want m merged into ann", ann, m, bob)
	}

	// Two audiences, ids in a known order, and their logs written by hand.
	vip := audience.Audience{ID: "seg_" + fmt.Sprintf("%032x", 1), Name: "vip", CreatedAt: t0, UpdatedAt: t0,
		Filter: audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}}}
	news := vip
	news.ID, news.Name = "seg_"+fmt.Sprintf("%032x", 2), "newsletter"
	storetest.Must(t, as.PutAudience(ctx, vip))
	storetest.Must(t, as.PutAudience(ctx, news))
	names := map[string]string{vip.ID: "VIP", news.ID: "NEWS"}
	minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	log := func(a audience.Audience, enter, exit []string, at time.Time) {
		t.Helper()
		storetest.Must(t, as.ApplyMembership(ctx, a.ID, enter, exit, at))
	}
	log(vip, []string{m}, nil, minute(1))
	log(news, []string{bob}, nil, minute(1))
	log(vip, []string{ann}, []string{m}, minute(2))
	log(news, []string{ann}, nil, minute(2))
	log(vip, []string{bob}, []string{ann}, minute(3))

	wantAnn := []string{
		"VIP EXITED " + ann + "@3 vip",
		"VIP EXITED " + m + "@2 vip",
		"VIP ENTERED " + ann + "@2 vip",
		"NEWS ENTERED " + ann + "@2 newsletter",
		"VIP ENTERED " + m + "@1 vip",
	}
	wantBob := []string{
		"VIP ENTERED " + bob + "@3 vip",
		"NEWS ENTERED " + bob + "@1 newsletter",
	}
	x := privacy.NewExporter(eng).WithAudienceChanges(audience.ChangeLog(as))
	for _, c := range []struct {
		asked, id string
		counts    privacy.Counts
		want      []string
	}{
		// Ann: three identifiers, two links (a1, a2), the merge.
		{ann, ann, privacy.Counts{Identifiers: 3, Events: 3, History: 1, Links: 2, AudienceChanges: 5}, wantAnn},
		{m, ann, privacy.Counts{Identifiers: 3, Events: 3, History: 1, Links: 2, AudienceChanges: 5}, wantAnn},
		{bob, bob, privacy.Counts{Identifiers: 1, Events: 1, AudienceChanges: 2}, wantBob},
	} {
		ex, err := x.Prepare(ctx, c.asked)
		if err != nil {
			t.Fatalf("export of %s: %v", c.asked, err)
		}
		if ex.Profile.ID != c.id || ex.Counts != c.counts {
			t.Errorf("export of %s: profile %s, counts %+v; want %s, %+v", c.asked, ex.Profile.ID, ex.Counts, c.id, c.counts)
		}
		if got := audienceLog(t, collect(t, ex)[privacy.KindAudienceChange], names); !slices.Equal(got, c.want) {
			t.Errorf("export of %s: audience log\n%v\nwant\n%v", c.asked, got, c.want)
		}
	}

	// Logged after Prepare: left out of that export, in the next one.
	ex, err := x.Prepare(ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	log(vip, []string{ann}, nil, minute(4))
	if got := audienceLog(t, collect(t, ex)[privacy.KindAudienceChange], names); !slices.Equal(got, wantAnn) {
		t.Errorf("with an entry logged after Prepare: %v, want %v", got, wantAnn)
	}
	wantAnn = append([]string{"VIP ENTERED " + ann + "@4 vip"}, wantAnn...)
	if ex, err = x.Prepare(ctx, ann); err != nil {
		t.Fatal(err)
	}
	if got := audienceLog(t, collect(t, ex)[privacy.KindAudienceChange], names); ex.Counts.AudienceChanges != 6 || !slices.Equal(got, wantAnn) {
		t.Errorf("the next export: %d counted, %v; want 6, %v", ex.Counts.AudienceChanges, got, wantAnn)
	}

	// Logged after Prepare but dated among the entries counted (a keeper
	// takes its time before it commits): the count would still hold, with
	// the oldest counted entry pushed out, so the Write fails instead.
	if ex, err = x.Prepare(ctx, ann); err != nil {
		t.Fatal(err)
	}
	log(news, nil, []string{ann}, minute(3))
	err = ex.Write(ctx, func(string, any) error { return nil })
	if graph.ErrorCode(err) != graph.ECONFLICT {
		t.Errorf("Write after an entry dated among the counted ones: %v, want ECONFLICT", err)
	}

	// An audience deleted between the passes: its entries are gone, so the
	// count no longer holds.
	if ex, err = x.Prepare(ctx, ann); err != nil {
		t.Fatal(err)
	}
	if _, err := as.DeleteAudience(ctx, news.ID); err != nil {
		t.Fatal(err)
	}
	err = ex.Write(ctx, func(string, any) error { return nil })
	if graph.ErrorCode(err) != graph.ECONFLICT {
		t.Errorf("Write after an audience was deleted: %v, want ECONFLICT", err)
	}

	// Without the reader, an export holds no audience log.
	ex, err = privacy.NewExporter(eng).Prepare(ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, ex)[privacy.KindAudienceChange]; ex.Counts.AudienceChanges != 0 || len(got) != 0 {
		t.Errorf("without a reader: %d counted, %v written", ex.Counts.AudienceChanges, got)
	}
}
