package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// copyTarget is one kind of target of the tests below.
type copyTarget struct {
	name string
	// open opens a fresh, empty store and returns it, a function that
	// lets cdp copy open it (the embedded store is locked while open: it
	// is closed) and returns it open again afterwards, the flags naming
	// it, and how cdp copy names it.
	open func(t *testing.T) (st graph.Store, during func(fn func()) graph.Store, flags []string, says string)
}

func copyTargets() []copyTarget {
	return []copyTarget{
		{"embedded", func(t *testing.T) (graph.Store, func(func()) graph.Store, []string, string) {
			dir := t.TempDir()
			st, err := embedded.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			cur := st
			t.Cleanup(func() { cur.Close(context.Background()) })
			during := func(fn func()) graph.Store {
				storetest.Must(t, cur.Close(context.Background()))
				fn()
				s, err := embedded.Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				cur = s
				return s
			}
			return st, during, []string{"--to-data-dir", dir}, "embedded store in " + dir
		}},
		{"neo4j", func(t *testing.T) (graph.Store, func(func()) graph.Store, []string, string) {
			neo := storetest.OpenNeo4j(t) // the test lock, and an empty database
			cfg := storetest.Neo4jConfig()
			db := cfg.Database
			if db == "" {
				db = "neo4j"
			}
			return neo, func(fn func()) graph.Store { fn(); return neo }, neo4jFlags("to"), fmt.Sprintf("Neo4j %s database %s", cfg.URI, db)
		}},
	}
}

// A target whose feed ran (5 entries appended, as one transaction) and was
// trimmed to nothing holds no record, but a feed head 5 and a trimmed mark
// 5: it is not empty. Without --force cdp copy refuses it, saying so, and
// leaves it as it was (before, the copy wrote everything and then failed
// its verification, feed head and trimmed differing).
func TestCopyRefusesATargetWhoseFeedWasTrimmed(t *testing.T) {
	dirA := t.TempDir()
	ingestEvents(t, dirA, map[string][]string{"a1": {"user_id:u1", "email:a@x.example"}})
	for _, target := range copyTargets() {
		t.Run(target.name, func(t *testing.T) {
			ctx := context.Background()
			st, during, flags, says := target.open(t)
			at := time.Now().Add(-time.Hour)
			entries := make([]graph.FeedEntry, 5)
			for i := range entries {
				entries[i] = graph.FeedEntry{At: at, Kind: graph.FeedTraitsChanged, ProfileID: fmt.Sprintf("p_gone%d", i)}
			}
			storetest.Must(t, st.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
				return tx.(graph.FeedTx).AppendFeed(ctx, entries)
			}))
			fs := st.(graph.FeedStore)
			if n, err := fs.TrimFeed(ctx, time.Now(), 100); err != nil || n != 5 {
				t.Fatalf("trimmed %d entries (%v), want 5", n, err)
			}
			checkUntouched := func(st graph.Store) {
				t.Helper()
				s, err := dump.NewStream(st)
				storetest.Must(t, err)
				counts, err := s.CountAll(ctx)
				storetest.Must(t, err)
				for k, n := range counts {
					if n != 0 {
						t.Errorf("the target holds %s=%d, want none", k, n)
					}
				}
				head, trimmed, err := s.FeedMarks(ctx)
				if err != nil || head != 5 || trimmed != 5 {
					t.Errorf("the target's feed head %d, trimmed %d (%v), want 5 and 5", head, trimmed, err)
				}
			}
			checkUntouched(st) // what the old check took for an empty target

			var out, errOut string
			var code int
			st = during(func() { out, errOut, code = copyRun(t, append([]string{"--from-data-dir", dirA}, flags...)...) })
			want := "cdp copy: the target (" + says + ") is not empty: it holds feed head=5, feed trimmed=5; give --force to copy into it anyway\n"
			if code != 1 || errOut != want || strings.Contains(out, "copying") {
				t.Errorf("copy into a target whose feed was trimmed: exit %d\nstdout: %s\nstderr: %q\nwant stderr %q", code, out, errOut, want)
			}
			checkUntouched(st)
		})
	}
}

// A target that holds only the facts of a profile it does not have is
// not empty: they are counted as facts (read by the profile ids they are
// kept for, not by profile), and the refusal names the kind.
func TestCopyRefusesATargetWithFactsOfNoProfile(t *testing.T) {
	dirA := t.TempDir()
	ingestEvents(t, dirA, map[string][]string{"a1": {"user_id:u1"}})
	for _, target := range copyTargets() {
		t.Run(target.name, func(t *testing.T) {
			ctx := context.Background()
			st, during, flags, says := target.open(t)
			storetest.Must(t, st.(audience.Store).PutFacts(ctx, []audience.Facts{{ProfileID: "p_gone", Keys: []string{"user_id:gone"}, Types: []string{"user_id"}}}))
			var out, errOut string
			var code int
			st = during(func() { out, errOut, code = copyRun(t, append([]string{"--from-data-dir", dirA}, flags...)...) })
			want := "cdp copy: the target (" + says + ") is not empty: it holds facts=1; give --force to copy into it anyway\n"
			if code != 1 || errOut != want {
				t.Fatalf("copy into a target with facts of no profile: exit %d\nstdout: %s\nstderr: %q\nwant stderr %q", code, out, errOut, want)
			}
			s, err := dump.NewStream(st)
			storetest.Must(t, err)
			if n, err := s.Count(ctx, dump.Identifiers); err != nil || n != 0 {
				t.Errorf("the refused target holds %d identifiers (%v), want none", n, err)
			}
		})
	}
}

// A target that holds no record and no feed mark but something else a new
// store does not hold, which no count sees (here an entry of an index
// bucket, or a node of a label no store writes), is not empty either: the
// message names the bucket, or the label, and how many.
func TestCopyRefusesATargetWithLeftovers(t *testing.T) {
	dirA := t.TempDir()
	ingestEvents(t, dirA, map[string][]string{"a1": {"user_id:u1"}})
	wantHeld := map[string]string{"embedded": "1 entry in the computed_by_name bucket", "neo4j": "1 Stray node"}
	for _, target := range copyTargets() {
		t.Run(target.name, func(t *testing.T) {
			ctx := context.Background()
			st, during, flags, says := target.open(t)
			st = during(func() {
				switch s := st.(type) {
				case *embedded.Store: // closed meanwhile: flags are --to-data-dir DIR
					db, err := bolt.Open(filepath.Join(flags[1], embedded.FileName), 0o600, nil)
					storetest.Must(t, err)
					storetest.Must(t, db.Update(func(btx *bolt.Tx) error {
						return btx.Bucket([]byte("computed_by_name")).Put([]byte("stray"), []byte{1})
					}))
					storetest.Must(t, db.Close())
				case *neo4jstore.Store:
					sess := s.Driver().NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.Database()})
					defer sess.Close(context.Background())
					_, err := sess.Run(ctx, "CREATE (:Stray)", nil)
					storetest.Must(t, err)
				default:
					t.Fatalf("a target store %T", st)
				}
			})
			var out, errOut string
			var code int
			st = during(func() { out, errOut, code = copyRun(t, append([]string{"--from-data-dir", dirA}, flags...)...) })
			want := "cdp copy: the target (" + says + ") is not empty: it holds " + wantHeld[target.name] + "; give --force to copy into it anyway\n"
			if code != 1 || errOut != want {
				t.Fatalf("copy into a target with leftovers: exit %d\nstdout: %s\nstderr: %q\nwant stderr %q", code, out, errOut, want)
			}
			s, err := dump.NewStream(st)
			storetest.Must(t, err)
			if n, err := s.Count(ctx, dump.Identifiers); err != nil || n != 0 {
				t.Errorf("the refused target holds %d identifiers (%v), want none", n, err)
			}
		})
	}
}

// A target that holds only a webhook destination and its delivery (no
// feed entry: the batch was taken of entries the test made up) is refused
// by name, as any kind is: "destinations=1, deliveries=1", not the
// store's buckets or labels.
func TestCopyRefusesATargetWithDestinations(t *testing.T) {
	dirA := t.TempDir()
	ingestEvents(t, dirA, map[string][]string{"a1": {"user_id:u1"}})
	for _, target := range copyTargets() {
		t.Run(target.name, func(t *testing.T) {
			ctx := context.Background()
			st, during, flags, says := target.open(t)
			ds := st.(destination.Store)
			now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
			d, err := ds.CreateDestination(ctx, destination.Destination{ID: destination.NewID(), Name: "crm", URL: "https://hooks.example/crm",
				Secret: "s3cret-crm-0123456789abcdef", CreatedAt: now, UpdatedAt: now})
			storetest.Must(t, err)
			_, _, err = ds.AcquireLease(ctx, d.ID, "proc", now, time.Hour)
			storetest.Must(t, err)
			e := graph.FeedEntry{Seq: 1, At: now, Kind: graph.FeedTraitsChanged, ProfileID: "p_elsewhere"}
			if _, made, err := ds.TakeBatch(ctx, d.ID, "proc", 0, 1, []graph.FeedEntry{e}, now); err != nil || !made {
				t.Fatalf("take a batch: %v %v", made, err)
			}
			var out, errOut string
			var code int
			st = during(func() { out, errOut, code = copyRun(t, append([]string{"--from-data-dir", dirA}, flags...)...) })
			want := "cdp copy: the target (" + says + ") is not empty: it holds destinations=1, deliveries=1; give --force to copy into it anyway\n"
			if code != 1 || errOut != want {
				t.Fatalf("copy into a target with a destination: exit %d\nstdout: %s\nstderr: %q\nwant stderr %q", code, out, errOut, want)
			}
			if _, err := st.(destination.Store).Destination(ctx, d.ID); err != nil {
				t.Errorf("the refused target's destination: %v", err)
			}
		})
	}
}

// copyAltered copies the embedded store of dir into dst as cdp copy does,
// page by page through the record stream, but passes every page through
// alter first.
func copyAltered(t *testing.T, dir string, dst graph.Store, alter func(b *dump.Batch)) {
	t.Helper()
	st, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	copyAlteredFrom(t, st, dst, alter)
}

// copyAlteredFrom is copyAltered from the open store st.
func copyAlteredFrom(t *testing.T, st, dst graph.Store, alter func(b *dump.Batch)) {
	t.Helper()
	ctx := context.Background()
	src, err := dump.NewStream(st)
	storetest.Must(t, err)
	to, err := dump.NewStream(dst)
	storetest.Must(t, err)
	for _, k := range src.Kinds() {
		after := ""
		for {
			b, err := src.Page(ctx, k, after, 1000)
			storetest.Must(t, err)
			alter(&b)
			storetest.Must(t, to.Load(ctx, b))
			if b.Next == "" {
				break
			}
			after = b.Next
		}
	}
}

// The final check of cdp copy compares the content of identifiers (with
// their traits), events (with their payloads) and consent records, not
// only counts and the partition: a target that differs from the source
// in one trait value, one event property or one consent record's proof,
// and in nothing counted, is told apart (exit 1, the kind named), on both
// stores; an unaltered copy matches, and says only what it compared. The
// consent checksum is worked out by hand.
func TestCopyComparesContent(t *testing.T) {
	ctx := context.Background()
	dirA, st := copySource(t)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	res, err := graph.NewEngine(st, nil).ApplyBatch(ctx, []graph.Event{
		{ID: "test/c1", MessageID: "c1", Type: "identify", Source: "test", Timestamp: at, ReceivedAt: at,
			Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u1"}, {Type: "email", Value: "a@x.example"}},
			Traits:      map[string]any{"plan": "pro"}, Properties: map[string]any{"amount": 12.5, "items": []any{"a", "b"}}},
		{ID: "test/c2", MessageID: "c2", Type: "identify", Source: "test", Timestamp: at.Add(time.Minute), ReceivedAt: at.Add(time.Minute),
			Identifiers: []graph.IdentifierRef{{Type: "email", Value: "b@x.example"}}, Traits: map[string]any{"plan": "free"}},
	})
	if err != nil || res.Stored != 2 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	created := time.Date(2026, 2, 1, 9, 30, 0, 123456000, time.UTC)
	storetest.Must(t, st.PutConsent(ctx, []privacy.Record{{ID: "cns_" + strings.Repeat("a", 32), Purpose: "email",
		Status: privacy.StatusGranted, At: created, Source: "web", LegalBasis: privacy.BasisConsent, Identifier: "email:a@x.example",
		ReceivedAt: created.Add(time.Second), Proof: privacy.Proof{Text: "I agree", Version: "v3", Channel: "web", Collector: "form", EventID: "test/c1"}}}))
	storetest.Must(t, st.Close(ctx))
	// The one consent record, as JSON with sorted keys and UTC times.
	consentJSON := `{"At":"2026-02-01T09:30:00.123456Z","ExpiresAt":"0001-01-01T00:00:00Z","ID":"cns_` + strings.Repeat("a", 32) + `",` +
		`"Identifier":"email:a@x.example","LegalBasis":"CONSENT","Proof":{"Channel":"web","Collector":"form","EventID":"test/c1","Text":"I agree","Version":"v3"},` +
		`"Purpose":"email","ReceivedAt":"2026-02-01T09:30:01.123456Z","Source":"web","Status":"GRANTED"}`
	wantConsent := sha256Hex(sha256Hex(consentJSON) + "\n")

	variants := []struct {
		name  string
		alter func(b *dump.Batch)
		want  string // what the stores differ in, "" for nothing
	}{
		{"unaltered", func(*dump.Batch) {}, ""},
		{"trait", func(b *dump.Batch) {
			for i, id := range b.Identifiers {
				if tv, ok := id.Traits["plan"]; ok && tv.Value == "pro" {
					tv.Value = "enterprise"
					b.Identifiers[i].Traits = map[string]graph.TraitValue{"plan": tv}
				}
			}
		}, "identifiers content"},
		{"event payload", func(b *dump.Batch) {
			for i, e := range b.Events {
				if e.ID == "test/c1" {
					b.Events[i].Properties = map[string]any{"amount": 13, "items": []any{"a", "b"}}
				}
			}
		}, "events content"},
		{"consent proof", func(b *dump.Batch) {
			for i := range b.Consent {
				b.Consent[i].Proof.Version = "v4"
			}
		}, "consent content"},
	}
	for _, target := range copyTargets() {
		for _, v := range variants {
			t.Run(target.name+"/"+v.name, func(t *testing.T) {
				st, during, flags, _ := target.open(t)
				copyAltered(t, dirA, st, v.alter)
				var out, errOut string
				var code int
				during(func() {
					out, errOut, code = copyRun(t, append([]string{"--verify-only", "--from-data-dir", dirA}, flags...)...)
				})
				rows := contentRows(out)
				if rows["consent"][0] != wantConsent {
					t.Errorf("the source's consent checksum is %s, want %s worked out by hand\n%s", rows["consent"][0], wantConsent, out)
				}
				for _, k := range []string{"identifiers", "events", "consent"} {
					if differs := rows[k][0] != rows[k][1]; rows[k][0] == "" || differs != (v.want == k+" content") {
						t.Errorf("content checksums of %s: %v, want them to differ only when %s was altered\n%s", k, rows[k], k, out)
					}
				}
				if table := copyTable(out); table["partition sha256"][0] != table["partition sha256"][1] || table["identifiers"] != [2]string{"3", "3"} ||
					table["events"] != [2]string{"2", "2"} || table["consent"] != [2]string{"1", "1"} {
					t.Errorf("counts or partition differ:\n%s", out)
				}
				if v.want == "" {
					const match = "match: counts, live profiles, feed head and trimmed, delivery numbers, the partition checksum and the content checksums of profiles, identifiers, links, rejected, events, changes, api_keys, audit, consent, suppressed, retired_profile_ids, receipts, computed_traits, computed_values, facts, audiences, audience_members, audience_changes, feed, destinations, deliveries (not suppression_key, which keys no hash on either side)\n"
					if code != 0 || !strings.HasSuffix(out, match) || errOut != "" {
						t.Errorf("verify an unaltered copy: exit %d\n%s\n%s", code, out, errOut)
					}
					return
				}
				if want := "cdp copy: the stores differ: " + v.want + "\n"; code != 1 || errOut != want || strings.Contains(out, "match") {
					t.Errorf("verify a copy with another %s: exit %d, stderr %q, want %q\n%s", v.name, code, errOut, want, out)
				}
			})
		}
	}
}

// contentRows reads the content checksums cdp copy prints: per kind, the
// source's and the target's.
func contentRows(out string) map[string][2]string {
	rows := map[string][2]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != "content" || f[1] != "sha256" || f[2] != "of" {
			continue
		}
		k := strings.TrimSuffix(f[3], ",")
		r := rows[k]
		switch f[4] {
		case "source":
			r[0] = f[5]
		case "target":
			r[1] = f[5]
		}
		rows[k] = r
	}
	return rows
}

// copyVariant alters what a copy writes to its target (copyAltered); want
// is what the final check must name as differing, "" for a copy left as
// it is.
type copyVariant struct {
	name  string
	alter func(b *dump.Batch)
	want  string
}

// verifyAlteredCopies copies the store in dir to every target unaltered,
// then once per variant, altered as the variant says, and runs
// --verify-only on it: the unaltered copy must match, and every other must
// be told apart by the kind want names, with the counts left equal
// (asBuilt checks the table of counts, which no variant changes). Then the
// other way: dir is copied to Neo4j by cdp copy, and from there to a new
// embedded store, unaltered and then once per variant, each verified
// against Neo4j.
func verifyAlteredCopies(t *testing.T, dir string, variants []copyVariant, asBuilt func(table map[string][2]string) bool) {
	t.Helper()
	variants = append([]copyVariant{{"unaltered", func(*dump.Batch) {}, ""}}, variants...)
	for _, target := range copyTargets() {
		for _, v := range variants {
			t.Run(target.name+"/"+v.name, func(t *testing.T) {
				st, during, flags, _ := target.open(t)
				copyAltered(t, dir, st, v.alter)
				var out, errOut string
				var code int
				during(func() {
					out, errOut, code = copyRun(t, append([]string{"--verify-only", "--from-data-dir", dir}, flags...)...)
				})
				checkAlteredCopy(t, v, out, errOut, code, asBuilt)
			})
		}
	}
	t.Run("from neo4j", func(t *testing.T) {
		neo := storetest.OpenNeo4j(t) // the lock, and an empty database
		if out, errOut, code := copyRun(t, append([]string{"--from-data-dir", dir}, neo4jFlags("to")...)...); code != 0 {
			t.Fatalf("copy to Neo4j: exit %d\n%s\n%s", code, out, errOut)
		}
		for _, v := range variants {
			t.Run(v.name, func(t *testing.T) {
				dirB, st := copySource(t)
				copyAlteredFrom(t, neo, st, v.alter)
				storetest.Must(t, st.Close(context.Background()))
				out, errOut, code := copyRun(t, append(append([]string{"--verify-only"}, neo4jFlags("from")...), "--to-data-dir", dirB)...)
				checkAlteredCopy(t, v, out, errOut, code, asBuilt)
			})
		}
	})
}

// checkAlteredCopy checks what cdp copy --verify-only said of a copy
// altered as v says: a match for a copy left as it is, otherwise exit 1
// naming v.want alone, the counts equal (asBuilt) either way.
func checkAlteredCopy(t *testing.T, v copyVariant, out, errOut string, code int, asBuilt func(table map[string][2]string) bool) {
	t.Helper()
	if !asBuilt(copyTable(out)) {
		t.Fatalf("counts differ, or the source is not as built:\n%s", out)
	}
	if v.want == "" {
		if code != 0 || errOut != "" {
			t.Fatalf("verify an unaltered copy: exit %d\n%s\n%s", code, out, errOut)
		}
		return
	}
	if want := "cdp copy: the stores differ: " + v.want + "\n"; code != 1 || errOut != want || strings.Contains(out, "match") {
		t.Errorf("verify a copy altered in its %s: exit %d, stderr %q, want %q\n%s", v.name, code, errOut, want, out)
	}
}

// copySource opens a new embedded store in a folder of its own, to be
// filled, closed and copied from.
func copySource(t *testing.T) (string, *embedded.Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, st
}
