package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// The final check of cdp copy tells apart a target that differs from the
// source in what the resolution rules keep besides the partition: a
// link's evidence, a refused link's reason, the profile an old profile id
// redirects to, or a merge's recorded reason. Each of those differences
// leaves every count and the partition checksum equal, so only a content
// checksum of those kinds can find it. On both stores.
func TestCopyComparesTheGraphsContent(t *testing.T) {
	ctx := context.Background()
	dirA, st := copySource(t)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ev := func(id string, minute int, refs ...graph.IdentifierRef) graph.Event {
		ts := at.Add(time.Duration(minute) * time.Minute)
		return graph.Event{ID: "test/" + id, MessageID: id, Type: "track", Name: "Viewed", Source: "test", Timestamp: ts, ReceivedAt: ts, Identifiers: refs}
	}
	email := graph.IdentifierRef{Type: "email", Value: "a@x.example"}
	u1 := graph.IdentifierRef{Type: "user_id", Value: "u1"}
	u9 := graph.IdentifierRef{Type: "user_id", Value: "u9"}
	eng := graph.NewEngine(st, nil)
	// Two profiles, then an event that links them (a merge, a redirect
	// and a history entry), then one that two user ids refuse.
	for i, batch := range [][]graph.Event{
		{ev("g1", 0, email)}, {ev("g2", 1, u1)}, {ev("g3", 2, email, u1)}, {ev("g4", 3, u9)}, {ev("g5", 4, u1, u9)},
	} {
		if _, err := eng.ApplyBatch(ctx, batch); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	storetest.Must(t, st.Close(ctx))

	variants := []copyVariant{
		{"link evidence", func(b *dump.Batch) {
			for i := range b.Links {
				b.Links[i].Evidence = "forged/evidence"
			}
		}, "links content"},
		{"refused link reason", func(b *dump.Batch) {
			for i := range b.Rejected {
				b.Rejected[i].Reason = b.Rejected[i].Reason + " (altered)"
			}
		}, "rejected content"},
		{"redirect", func(b *dump.Batch) {
			var merged, other int = -1, -1
			for i, p := range b.Profiles {
				if p.MergedInto != "" {
					merged = i
				}
			}
			if merged < 0 {
				return
			}
			for i, p := range b.Profiles {
				if p.MergedInto == "" && p.ID != b.Profiles[merged].MergedInto {
					other = i
				}
			}
			if other < 0 {
				t.Fatal("no third profile to redirect to")
			}
			b.Profiles[merged].MergedInto = b.Profiles[other].ID
		}, "profiles content"},
		{"merge reason", func(b *dump.Batch) {
			for i := range b.Changes {
				b.Changes[i].Reason = "altered"
			}
		}, "changes content"},
	}
	verifyAlteredCopies(t, dirA, variants, func(table map[string][2]string) bool {
		return table["partition sha256"][0] == table["partition sha256"][1] && table["links"] == [2]string{"1", "1"} &&
			table["rejected"] == [2]string{"1", "1"} && table["profiles"] == [2]string{"3", "3"} && table["changes"][0] == table["changes"][1]
	})
}

// The final check of cdp copy tells apart a target whose API keys differ
// from the source's in what decides who gets in: a key revoked on the
// source but usable on the target, or a key with other scopes, has the
// same count on both sides, so only a content checksum of the keys finds
// it. On both stores.
func TestCopyComparesAPIKeys(t *testing.T) {
	ctx := context.Background()
	dirA, st := copySource(t)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, k := range []access.Key{
		{ID: "key_a", Name: "admin", Scopes: []access.Scope{access.ScopeKeysAdmin, access.ScopeAuditRead}, Hash: access.HashSecret("cdp_" + strings.Repeat("a", 40)), CreatedAt: at},
		{ID: "key_b", Name: "reader", Scopes: []access.Scope{access.ScopeProfilesRead}, Hash: access.HashSecret("cdp_" + strings.Repeat("b", 40)), CreatedAt: at, LastUsedAt: at.Add(time.Hour)},
	} {
		storetest.Must(t, st.CreateKey(ctx, k))
		if i == 0 {
			if _, _, err := st.RevokeKey(ctx, k.ID, at.Add(2*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	storetest.Must(t, st.Close(ctx))

	variants := []copyVariant{
		{"revocation", func(b *dump.Batch) {
			for i := range b.APIKeys {
				b.APIKeys[i].RevokedAt = time.Time{}
			}
		}, "api_keys content"},
		{"scopes", func(b *dump.Batch) {
			for i := range b.APIKeys {
				if b.APIKeys[i].ID == "key_b" {
					b.APIKeys[i].Scopes = []access.Scope{access.ScopeProfilesRead, access.ScopePIIRead}
				}
			}
		}, "api_keys content"},
	}
	verifyAlteredCopies(t, dirA, variants, func(table map[string][2]string) bool {
		return table[string(dump.APIKeys)] == [2]string{"2", "2"}
	})
}

// The final check of cdp copy tells apart a target whose webhook
// destination differs from the source's in where it delivers, how it
// signs, or where in the feed it goes on: the same number of destinations
// and the same delivery number on both sides, so only a content checksum
// of the destinations finds it. Leases, which a copy does not carry, are
// not compared. On both stores.
func TestCopyComparesDestinations(t *testing.T) {
	ctx := context.Background()
	dirA, st := copySource(t)
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	d, err := st.CreateDestination(ctx, destination.Destination{ID: destination.NewID(), Name: "crm", URL: "https://hooks.example/crm",
		Secret: "s3cret-crm-0123456789abcdef", Headers: map[string]string{"X-Team": "crm", "X-Env": "prod"}, CreatedAt: now, UpdatedAt: now})
	storetest.Must(t, err)
	// A lease on the source, which the copy leaves behind.
	_, _, err = st.AcquireLease(ctx, d.ID, "proc", now, time.Hour)
	storetest.Must(t, err)
	e := graph.FeedEntry{Seq: 1, At: now, Kind: graph.FeedTraitsChanged, ProfileID: "p_elsewhere"}
	if _, made, err := st.TakeBatch(ctx, d.ID, "proc", 0, 1, []graph.FeedEntry{e}, now); err != nil || !made {
		t.Fatalf("take a batch: %v %v", made, err)
	}
	storetest.Must(t, st.Close(ctx))

	variants := []copyVariant{
		{"url", func(b *dump.Batch) {
			for i := range b.Destinations {
				b.Destinations[i].URL = "https://hooks.example/elsewhere"
			}
		}, "destinations content"},
		{"secret", func(b *dump.Batch) {
			for i := range b.Destinations {
				b.Destinations[i].Secret = "another-secret-0123456789"
			}
		}, "destinations content"},
		{"cursor", func(b *dump.Batch) {
			for i := range b.Destinations {
				b.Destinations[i].Cursor = 0
			}
		}, "destinations content"},
	}
	verifyAlteredCopies(t, dirA, variants, func(table map[string][2]string) bool {
		return table[string(dump.Destinations)] == [2]string{"1", "1"} && table["delivery numbers"] == [2]string{"1", "1"}
	})
}

// The final check of cdp copy tells apart a target whose audit log says
// something else than the source's: an entry with another outcome, or
// naming other profiles, leaves the number of entries equal, so only a
// content checksum of the log finds it. On both stores.
func TestCopyComparesTheAuditLog(t *testing.T) {
	ctx := context.Background()
	dirA, st := copySource(t)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	storetest.Must(t, st.AppendAudit(ctx, []access.AuditEntry{
		{ID: "aud_e1", At: at, KeyID: "key_a", KeyName: "admin", Action: "mergeProfiles", OperationName: "Fix", RequestID: "r1",
			ProfileIDs: []string{"p_b", "p_a"}, ProfileCount: 2, Reason: "same person, ticket 12", Outcome: access.OutcomeOK},
		{ID: "aud_e2", At: at.Add(time.Second), Action: "store.backup", Reason: "a copy of the whole store", Outcome: access.OutcomeOK},
	}))
	storetest.Must(t, st.Close(ctx))

	variants := []copyVariant{
		{"outcome", func(b *dump.Batch) {
			for i := range b.Audit {
				if b.Audit[i].ID == "aud_e1" {
					b.Audit[i].Outcome = "FORBIDDEN"
				}
			}
		}, "audit content"},
		{"profiles", func(b *dump.Batch) {
			for i := range b.Audit {
				if b.Audit[i].ID == "aud_e1" {
					b.Audit[i].ProfileIDs = []string{"p_a", "p_c"}
				}
			}
		}, "audit content"},
	}
	verifyAlteredCopies(t, dirA, variants, func(table map[string][2]string) bool {
		return table[string(dump.Audit)] == [2]string{"2", "2"}
	})
}

// The final check of cdp copy compares the content of every kind it
// copies besides those above: a target that differs from the source in
// one record of the suppression list, the retired profile ids, the
// erasure receipts, the computed traits and their values, the profile
// facts, the audiences, their members or their log, the change feed or
// the deliveries (a reason, a count, a value, a time off by a
// microsecond), and in nothing counted, is told apart, the kind named. On
// both stores, both ways.
func TestCopyComparesEveryKindsContent(t *testing.T) {
	ctx := context.Background()
	dirA, st := copySource(t)
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	res, err := graph.NewEngine(st, nil).ApplyBatch(ctx, []graph.Event{
		{ID: "test/k1", MessageID: "k1", Type: "identify", Source: "test", Timestamp: at, ReceivedAt: at,
			Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u1"}, {Type: "email", Value: "a@x.example"}}, Traits: map[string]any{"plan": "gold"}},
		{ID: "test/k2", MessageID: "k2", Type: "track", Name: "Order Completed", Source: "test", Timestamp: at.Add(time.Minute), ReceivedAt: at.Add(time.Minute),
			Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u2"}}, Properties: map[string]any{"total": 30}},
	})
	if err != nil || res.Stored != 2 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	idents, err := graphLookup(ctx, st, "user_id:u1", "user_id:u2")
	storetest.Must(t, err)
	p1, p2 := idents["user_id:u1"].ProfileID, idents["user_id:u2"].ProfileID

	// The privacy kinds: a secret that keys two suppressed hashes and a
	// retired profile id, and a receipt.
	secret := bytes.Repeat([]byte{9}, privacy.SuppressionKeyLen)
	storetest.Must(t, st.PutSuppressionKey(ctx, secret, true))
	storetest.Must(t, st.Suppress(ctx, []privacy.Suppression{
		{Hash: strings.Repeat("0f", 32), At: at, Reason: "erased"}, {Hash: strings.Repeat("e1", 32), At: at.Add(time.Hour)},
	}))
	storetest.Must(t, dump.Load(ctx, st, dump.Batch{Kind: dump.RetiredIDs, RetiredIDs: []string{graph.RetiredIDHash(secret, "p_gone")}}))
	storetest.Must(t, st.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return privacy.PutReceiptInTx(ctx, tx, privacy.ErasureReceipt{ID: "rcp_" + strings.Repeat("c", 32), At: at.Add(time.Hour),
			Kind: privacy.ErasureProfile, Reason: "request 12", Identifiers: 2, Events: 3, SuppressedHashes: 2})
	}))

	// The audience kinds: a computed trait with a value, facts with it, an
	// audience p1 and p2 entered and p2 left.
	storetest.Must(t, st.PutComputedTrait(ctx, audience.ComputedTrait{Name: "orders", Description: "orders ever", Aggregate: audience.AggCount,
		Event: "Order Completed", CreatedAt: at, UpdatedAt: at}))
	storetest.Must(t, st.PutComputedValues(ctx, []audience.ComputedValue{{ProfileID: p2, Name: "orders", Value: int64(1), ComputedAt: at.Add(2 * time.Minute)}}))
	storetest.Must(t, st.PutFacts(ctx, []audience.Facts{{ProfileID: p1, Keys: []string{"email:a@x.example", "user_id:u1"}, Types: []string{"email", "user_id"},
		Traits:   []audience.TraitFact{{Name: "plan", Value: "gold"}},
		Computed: []audience.ComputedFact{{Name: "orders", Version: 3, Value: 0.0, From: at}}}}))
	aud := audience.Audience{ID: fmt.Sprintf("seg_%032x", 5), Name: "Gold", Filter: audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "gold"}},
		CreatedAt: at, UpdatedAt: at}
	storetest.Must(t, st.PutAudience(ctx, aud))
	storetest.Must(t, st.ApplyMembership(ctx, aud.ID, []string{p1, p2}, nil, at.Add(10*time.Minute)))
	storetest.Must(t, st.ApplyMembership(ctx, aud.ID, nil, []string{p2}, at.Add(20*time.Minute)))

	// A destination with a dead delivery of the feed's first entries.
	d, err := st.CreateDestination(ctx, destination.Destination{ID: destination.NewID(), Name: "crm", URL: "https://hooks.example/crm",
		Secret: "s3cret-crm-0123456789abcdef", CreatedAt: at, UpdatedAt: at})
	storetest.Must(t, err)
	d.Cursor = 0 // created at the feed's head: rewound, as a copy would write it
	storetest.Must(t, st.LoadDestinations(ctx, []destination.Destination{d}))
	_, _, err = st.AcquireLease(ctx, d.ID, "proc", at.Add(time.Hour), time.Hour)
	storetest.Must(t, err)
	es, err := st.Feed(ctx, 0, nil, 2)
	if err != nil || len(es) != 2 {
		t.Fatalf("the feed's first entries: %d, %v", len(es), err)
	}
	del, made, err := st.TakeBatch(ctx, d.ID, "proc", 0, es[1].Seq, es, at.Add(time.Hour))
	if err != nil || !made {
		t.Fatalf("take a batch: %v %v", made, err)
	}
	storetest.Must(t, st.RecordAttempt(ctx, d.ID, "proc", del.Number, destination.Outcome{Status: destination.Dead, Attempts: 1,
		LastStatusCode: 410, LastError: "gone", At: at.Add(time.Hour + time.Second)}))
	storetest.Must(t, st.Close(ctx))

	variants := []copyVariant{
		{"suppression secret", func(b *dump.Batch) {
			if b.SuppressionKey != nil {
				b.SuppressionKey = bytes.Repeat([]byte{8}, privacy.SuppressionKeyLen)
			}
		}, "suppression_key content"},
		{"suppression time", func(b *dump.Batch) {
			for i := range b.Suppressed {
				if b.Suppressed[i].Reason == "erased" {
					b.Suppressed[i].At = b.Suppressed[i].At.Add(time.Microsecond)
				}
			}
		}, "suppressed content"},
		{"retired profile id", func(b *dump.Batch) {
			for i := range b.RetiredIDs {
				b.RetiredIDs[i] = graph.RetiredIDHash(secret, "p_other")
			}
		}, "retired_profile_ids content"},
		{"receipt count", func(b *dump.Batch) {
			for i := range b.Receipts {
				b.Receipts[i].Events++
			}
		}, "receipts content"},
		{"computed trait", func(b *dump.Batch) {
			for i := range b.ComputedTraits {
				b.ComputedTraits[i].Description = "orders, altered"
			}
		}, "computed_traits content"},
		{"computed value", func(b *dump.Batch) {
			for i := range b.ComputedValues {
				b.ComputedValues[i].Value = int64(2)
			}
		}, "computed_values content"},
		{"computed value's kind of number", func(b *dump.Batch) {
			for i := range b.ComputedValues {
				b.ComputedValues[i].Value = 1.0 // the integer 1 as a float
			}
		}, "computed_values content"},
		{"facts", func(b *dump.Batch) {
			for i := range b.Facts {
				b.Facts[i].Computed = []audience.ComputedFact{{Name: "orders", Version: 3, Value: 0.0, From: at.Add(time.Nanosecond)}}
			}
		}, "facts content"},
		{"audience", func(b *dump.Batch) {
			for i := range b.Audiences {
				b.Audiences[i].Name = "Gold, altered"
			}
		}, "audiences content"},
		{"member since", func(b *dump.Batch) {
			for i := range b.AudienceMembers {
				b.AudienceMembers[i].Since = b.AudienceMembers[i].Since.Add(time.Microsecond)
			}
		}, "audience_members content"},
		{"audience log", func(b *dump.Batch) {
			for i := range b.AudienceChanges {
				if b.AudienceChanges[i].Kind == audience.Exited {
					b.AudienceChanges[i].ProfileID = p1
				}
			}
		}, "audience_changes content"},
		{"feed entry", func(b *dump.Batch) {
			for i := range b.Feed {
				if b.Feed[i].EventID == "test/k2" {
					b.Feed[i].EventID = "test/k1"
				}
			}
		}, "feed content"},
		{"delivery", func(b *dump.Batch) {
			for i := range b.Deliveries {
				b.Deliveries[i].LastError = "unavailable"
			}
		}, "deliveries content"},
	}
	kinds := []dump.Kind{dump.SuppressionKey, dump.Suppressed, dump.RetiredIDs, dump.Receipts, dump.ComputedTraits, dump.ComputedValues,
		dump.Facts, dump.Audiences, dump.AudienceMembers, dump.AudienceChanges, dump.Feed, dump.Destinations, dump.Deliveries}
	verifyAlteredCopies(t, dirA, variants, func(table map[string][2]string) bool {
		for _, k := range kinds {
			if n := table[string(k)]; n[0] == "" || n[0] == "0" || n[0] != n[1] {
				return false
			}
		}
		return table["feed head"][0] == table["feed head"][1]
	})
}
