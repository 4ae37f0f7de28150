package embedded

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

var update = flag.Bool("update", false, "write testdata/layout-v<formatVersion>.db and .dump from the fixed dataset")

// The layout fixtures: testdata/layout-vN.db is a file of layout version N
// holding the dataset of layoutWrites, written by the code of that version;
// testdata/layout-vN.dump lists every key and value of it (dumpFile). The
// files of older versions are kept so every upgrade is tested from a real
// file. See upgrade.go for how to add a version.
func layoutFixture(v uint64, ext string) string {
	return filepath.Join("testdata", fmt.Sprintf("layout-v%d.%s", v, ext))
}

// Keys of the dataset. crm:id:7 has the type "crm:id", which the key alone
// does not give, so its record spells type and value out.
const (
	kAnon  = "anonymous_id:a1"
	kCRM   = "crm:id:7"
	kEmail = "email:ann@example.com"
	kPhone = "phone:+15550100"
	kUser  = "user_id:u1"
)

// layoutT0 is the dataset's own time, so it does not move with other tests.
var layoutT0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func lt(h int) time.Time { return layoutT0.Add(time.Duration(h) * time.Hour) }

// moonLanding is before 1970, where the BY index must still sort by time.
var moonLanding = time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)

// layoutWrites returns the fixed dataset: every bucket and every kind of
// record and index entry of the layout. Two people: Ann (four identifiers,
// one profile merged into hers) and Bob (a phone); an event carries
// identifiers of both; a link between them was refused.
func layoutWrites() ([]graph.IdentifierSeen, *graph.Write) {
	seen := []graph.IdentifierSeen{
		{Key: kUser, Type: "user_id", Value: "u1", First: lt(0), Last: lt(3), Sources: []string{"web", "crm"}},
		{Key: kAnon, Type: "anonymous_id", Value: "a1", First: lt(0), Last: lt(1), Sources: []string{"web"}},
		{Key: kEmail, Type: "email", Value: "ann@example.com", First: lt(1), Last: lt(2), Sources: []string{"crm"}},
		{Key: kCRM, Type: "crm:id", Value: "7", First: moonLanding, Last: lt(2), Sources: []string{"crm"}},
		{Key: kPhone, Type: "phone", Value: "+15550100", First: lt(3), Last: lt(3), Sources: []string{"app"}},
	}
	w := &graph.Write{
		At: lt(3),
		PutProfiles: []graph.Profile{
			{ID: "p_ann", CreatedAt: lt(0), UpdatedAt: lt(3), Size: 4, Counts: map[string]int{"anonymous_id": 1, "crm:id": 1, "email": 1, "user_id": 1}},
			{ID: "p_bob", CreatedAt: lt(3), UpdatedAt: lt(3), Size: 1, Counts: map[string]int{"phone": 1}},
			{ID: "p_gone", CreatedAt: lt(1), UpdatedAt: lt(2), Size: 1, Counts: map[string]int{"email": 1}, MergedInto: "p_ann"},
		},
		Assign: []graph.Assignment{
			{Key: kUser, ProfileID: "p_ann"}, {Key: kAnon, ProfileID: "p_ann"}, {Key: kEmail, ProfileID: "p_ann"},
			{Key: kCRM, ProfileID: "p_ann"}, {Key: kPhone, ProfileID: "p_bob"},
		},
		PutLinks: []graph.Link{
			{A: kAnon, B: kUser, Source: "web", Evidence: "m-1", FirstSeen: lt(0), LastSeen: lt(1), Count: 2},
			{A: kUser, B: kEmail, Source: "crm", Evidence: "m-2", FirstSeen: lt(1), LastSeen: lt(1), Count: 1},
			{A: kCRM, B: kEmail, Source: "manual", Evidence: "support ticket 9", FirstSeen: lt(2), LastSeen: lt(2), Count: 1},
		},
		PutRejected: []graph.RejectedLink{
			{A: kUser, B: kPhone, Source: "rules", Reason: "limit:user_id", Evidence: "m-4", At: lt(3)},
		},
		Events: []graph.Event{
			{ID: "m-1", Type: "track", Name: "Viewed", Channel: "web", Source: "site", Timestamp: lt(0), ReceivedAt: lt(0).Add(time.Second),
				Properties: map[string]any{"path": "/", "value": 19.5}, Keys: []string{kAnon, kUser}},
			{ID: "m-2", Type: "identify", Channel: "server", Source: "crm", Timestamp: lt(1), ReceivedAt: lt(1),
				Traits: map[string]any{"name": "Ann"}, Keys: []string{kEmail, kUser}},
			{ID: "m-3", Type: "identify", Source: "crm", Timestamp: moonLanding, ReceivedAt: lt(2), Keys: []string{kCRM}},
			{ID: "m-4", Type: "identify", Channel: "mobile", Source: "app", Timestamp: lt(3), ReceivedAt: lt(3).Add(123456789),
				Properties: map[string]any{"nested": map[string]any{"list": []any{int64(1), "two", nil}}}, Keys: []string{kUser, kPhone}},
		},
		Traits: []graph.TraitUpdate{
			{Key: kEmail, Traits: map[string]graph.TraitValue{"name": {Value: "Ann", Source: "crm", At: lt(1)}}},
			{Key: kUser, Traits: map[string]graph.TraitValue{"age": {Value: int64(41), Source: "web", At: lt(0)}, "plan": {Value: "pro", Source: "crm", At: lt(2)}}},
		},
		Changes: []graph.ProfileChange{
			{Kind: graph.ChangeMerge, From: "p_gone", Into: "p_ann", At: lt(2), Reason: "rules"},
			{Kind: graph.ChangeSplit, From: "p_ann", Into: "p_bob", At: lt(3), Reason: "unlink"},
		},
		// The hash of a deleted profile's id (version 15); older layouts
		// have no bucket for it.
		RetireProfiles: []string{graph.RetiredIDHash([]byte("layout-secret-0123456789abcdef"), "p_erased")},
	}
	return seen, w
}

// writeLayoutDataset writes the dataset into a new store in dir.
func writeLayoutDataset(t *testing.T, dir string) {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen, w := layoutWrites()
	err = s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen, true); err != nil {
			return err
		}
		return tx.Apply(ctx, w)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Since layout 12: a transaction's feed entries, in one record.
	err = s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		return graph.AppendFeed(ctx, tx, []graph.FeedEntry{
			{At: lt(3), Kind: graph.FeedMerged, ProfileID: "p_a", PreviousIDs: []string{"p_b"}},
			{At: lt(3), Kind: graph.FeedEventAdded, ProfileID: "p_a", EventID: "web/m1"},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	// Since layout 6: a revoked key used once, and two audit entries.
	key := access.Key{
		ID: "key_admin", Name: "ops admin", Scopes: []access.Scope{access.ScopeKeysAdmin, access.ScopeEventsWrite},
		Source: "crm", Hash: access.HashSecret("cdp_" + strings.Repeat("A", 43)),
		CreatedAt: lt(0), ExpiresAt: lt(100),
	}
	if err := s.CreateKey(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchKey(context.Background(), key.ID, lt(1)); err != nil {
		t.Fatal(err)
	}
	// Since layout 16: a key it created, revoked with it.
	made := access.Key{
		ID: "key_made", Name: "made by ops", Scopes: []access.Scope{access.ScopeEventsWrite},
		Hash: access.HashSecret("cdp_" + strings.Repeat("C", 43)), CreatedAt: lt(1), CreatedBy: key.ID,
	}
	if err := s.CreateKey(context.Background(), made); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RevokeKey(context.Background(), key.ID, lt(2)); err != nil {
		t.Fatal(err)
	}
	err = s.AppendAudit(context.Background(), []access.AuditEntry{
		{ID: "aud_1", At: lt(2), KeyID: key.ID, KeyName: key.Name, Action: "mergeProfiles", OperationName: "Fix",
			RequestID: "req-1", ProfileIDs: []string{"p_ann", "p_gone"}, ProfileCount: 2, Reason: "ticket 9", Outcome: access.OutcomeOK},
		{ID: "aud_2", At: moonLanding, Action: "profile", ProfileIDs: []string{"p_bob"}, ProfileCount: 1, Outcome: "FORBIDDEN"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Since layout 7: a fixed suppression secret (SuppressionKey would
	// make a random one, and the golden dump must not change) and two
	// suppressed hashes.
	err = s.update(context.Background(), func(btx *bolt.Tx) error {
		return btx.Bucket(bucketSuppressionKey).Put(suppressionKeyName, layoutSuppressionKey())
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Suppress(context.Background(), []privacy.Suppression{
		{Hash: strings.Repeat("ab", 32), At: lt(4), Reason: "erasure rcpt_1"},
		{Hash: strings.Repeat("0f", 32), At: moonLanding},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Since layout 8: three consent records, two on the email (one with
	// every field) and one on an identifier the graph does not hold.
	if err := s.PutConsent(context.Background(), layoutConsent()); err != nil {
		t.Fatal(err)
	}
	// Since layout 9: two erasure receipts, one with every field and one
	// of open mode before 1970.
	err = s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		for _, r := range layoutReceipts() {
			if err := privacy.PutReceiptInTx(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Since layout 10: an audience with two members and three changes, a
	// computed trait, and two computed values, one of them expiring.
	writeLayoutAudiences(t, s)
	// Since layout 11: the facts of p_ann.
	writeLayoutFacts(t, s)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// layoutConsent is the dataset's consent ledger (layout 8).
func layoutConsent() []privacy.Record {
	return []privacy.Record{
		{ID: "cns_" + strings.Repeat("a1", 16), Purpose: "email", Status: privacy.StatusGranted, At: lt(1),
			Source: "crm", LegalBasis: privacy.BasisConsent, Identifier: kEmail,
			Proof:     privacy.Proof{Text: "Send me news.\nUnsubscribe any time.", Version: "v3", Channel: "web", Collector: "signup-form", EventID: "crm/m-2"},
			ExpiresAt: lt(100), ReceivedAt: lt(1).Add(1500 * time.Microsecond)},
		{ID: "cns_" + strings.Repeat("b2", 16), Purpose: "email", Status: privacy.StatusWithdrawn, At: lt(2),
			Source: "crm", LegalBasis: privacy.BasisConsent, Identifier: kEmail, ReceivedAt: lt(2)},
		{ID: "cns_" + strings.Repeat("c3", 16), Purpose: "advertising", Status: privacy.StatusDenied, At: moonLanding,
			Source: "import", LegalBasis: privacy.BasisLegitimateInterests, Identifier: "email:nobody@example.com",
			Proof: privacy.Proof{Version: "banner-2"}, ReceivedAt: lt(3)},
	}
}

// layoutReceipts is the dataset's erasure receipts (layout 9), as put.
func layoutReceipts() []privacy.ErasureReceipt {
	return []privacy.ErasureReceipt{
		{ID: "rcp_" + strings.Repeat("e5", 16), At: lt(5).Add(2500 * time.Nanosecond), Kind: privacy.ErasureProfile,
			Reason: "ticket 12: forget me", KeyID: "key_admin", KeyName: "ops admin",
			Identifiers: 4, Events: 3, ScrubbedEvents: 1, Traits: 3, ConsentRecords: 2, SuppressedHashes: 4},
		{ID: "rcp_" + strings.Repeat("f6", 16), At: moonLanding, Kind: privacy.ErasureIdentifier, Reason: "import cleanup"},
	}
}

// layoutSuppressionKey is the dataset's suppression secret: bytes 1 to 32.
func layoutSuppressionKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i + 1)
	}
	return k
}

// checkLayoutData reads the dataset back through the store and compares it
// with what the writes of layoutWrites mean, worked out by hand.
func checkLayoutData(t *testing.T, s *Store) {
	t.Helper()
	ident := func(key, typ, val string, first, last time.Time, profile string, sources []string, traits map[string]graph.TraitValue) graph.Identifier {
		return graph.Identifier{Key: key, Type: typ, Value: val, FirstSeen: first, LastSeen: last, Sources: sources, ProfileID: profile, Traits: traits}
	}
	idents := map[string]graph.Identifier{
		kUser: ident(kUser, "user_id", "u1", lt(0), lt(3), "p_ann", []string{"web", "crm"}, map[string]graph.TraitValue{
			"age": {Value: int64(41), Source: "web", At: lt(0)}, "plan": {Value: "pro", Source: "crm", At: lt(2)}}),
		kAnon:  ident(kAnon, "anonymous_id", "a1", lt(0), lt(1), "p_ann", []string{"web"}, nil),
		kEmail: ident(kEmail, "email", "ann@example.com", lt(1), lt(2), "p_ann", []string{"crm"}, map[string]graph.TraitValue{"name": {Value: "Ann", Source: "crm", At: lt(1)}}),
		kCRM:   ident(kCRM, "crm:id", "7", moonLanding, lt(2), "p_ann", []string{"crm"}, nil),
		kPhone: ident(kPhone, "phone", "+15550100", lt(3), lt(3), "p_bob", []string{"app"}, nil),
	}
	profiles := map[string]graph.Profile{
		"p_ann":  {ID: "p_ann", CreatedAt: lt(0), UpdatedAt: lt(3), Size: 4, Counts: map[string]int{"anonymous_id": 1, "crm:id": 1, "email": 1, "user_id": 1}},
		"p_bob":  {ID: "p_bob", CreatedAt: lt(3), UpdatedAt: lt(3), Size: 1, Counts: map[string]int{"phone": 1}},
		"p_gone": {ID: "p_gone", CreatedAt: lt(1), UpdatedAt: lt(2), Size: 1, Counts: map[string]int{"email": 1}, MergedInto: "p_ann"},
	}
	members := map[string][]graph.Identifier{
		"p_ann": {idents[kAnon], idents[kCRM], idents[kEmail], idents[kUser]},
		"p_bob": {idents[kPhone]},
	}
	// Links come ordered by pair, each with A < B.
	links := []graph.Link{
		{A: kAnon, B: kUser, Source: "web", Evidence: "m-1", FirstSeen: lt(0), LastSeen: lt(1), Count: 2},
		{A: kCRM, B: kEmail, Source: "manual", Evidence: "support ticket 9", FirstSeen: lt(2), LastSeen: lt(2), Count: 1},
		{A: kEmail, B: kUser, Source: "crm", Evidence: "m-2", FirstSeen: lt(1), LastSeen: lt(1), Count: 1},
	}
	rejected := []graph.RejectedLink{{A: kUser, B: kPhone, Source: "rules", Reason: "limit:user_id", Evidence: "m-4", At: lt(3)}}
	events := map[string]graph.Event{
		"m-1": {ID: "m-1", Type: "track", Name: "Viewed", Channel: "web", Source: "site", Timestamp: lt(0), ReceivedAt: lt(0).Add(time.Second),
			Properties: map[string]any{"path": "/", "value": 19.5}, Keys: []string{kAnon, kUser}},
		"m-2": {ID: "m-2", Type: "identify", Channel: "server", Source: "crm", Timestamp: lt(1), ReceivedAt: lt(1),
			Traits: map[string]any{"name": "Ann"}, Keys: []string{kEmail, kUser}},
		"m-3": {ID: "m-3", Type: "identify", Source: "crm", Timestamp: moonLanding, ReceivedAt: lt(2), Keys: []string{kCRM}},
		"m-4": {ID: "m-4", Type: "identify", Channel: "mobile", Source: "app", Timestamp: lt(3), ReceivedAt: lt(3).Add(123456789),
			Properties: map[string]any{"nested": map[string]any{"list": []any{int64(1), "two", nil}}}, Keys: []string{kUser, kPhone}},
	}
	journeys := map[string][]graph.Event{
		"p_ann": {events["m-4"], events["m-2"], events["m-1"], events["m-3"]},
		"p_bob": {events["m-4"]},
	}
	changes := []graph.ProfileChange{
		{Kind: graph.ChangeMerge, From: "p_gone", Into: "p_ann", At: lt(2), Reason: "rules"},
		{Kind: graph.ChangeSplit, From: "p_ann", Into: "p_bob", At: lt(3), Reason: "unlink"},
	}
	keys := []string{kUser, kAnon, kEmail, kCRM, kPhone}
	ids := []string{"p_ann", "p_bob", "p_gone"}
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
		}
	}
	err := s.View(context.Background(), func(ctx context.Context, tx graph.ReadTx) error {
		gotIdents, err := tx.Identifiers(ctx, keys)
		if err != nil {
			return err
		}
		check("identifiers", gotIdents, idents)
		gotProfiles, err := tx.Profiles(ctx, ids)
		if err != nil {
			return err
		}
		check("profiles", gotProfiles, profiles)
		gotMembers, err := tx.Members(ctx, ids)
		if err != nil {
			return err
		}
		check("members", gotMembers, members)
		gotLinks, err := tx.Links(ctx, keys)
		if err != nil {
			return err
		}
		check("links", gotLinks, links)
		gotRejected, err := tx.Rejected(ctx, keys)
		if err != nil {
			return err
		}
		check("rejected links", gotRejected, rejected)
		gotEvents, err := tx.Events(ctx, []string{"m-1", "m-2", "m-3", "m-4"})
		if err != nil {
			return err
		}
		check("events", gotEvents, events)
		gotJourneys, err := tx.Journeys(ctx, ids, graph.JourneyQuery{})
		if err != nil {
			return err
		}
		check("journeys", gotJourneys, journeys)
		n, err := tx.CountProfiles(ctx)
		if err != nil {
			return err
		}
		check("live profiles", n, 2)
		page, err := tx.ProfilesPage(ctx, graph.PageQuery{})
		if err != nil {
			return err
		}
		check("profiles page", page, []graph.Profile{profiles["p_ann"], profiles["p_bob"]})
		gotChanges, err := tx.Changes(ctx, []string{"p_gone"})
		if err != nil {
			return err
		}
		check("history of p_gone", gotChanges, changes[:1])
		gotChanges, err = tx.Changes(ctx, []string{"p_ann"})
		if err != nil {
			return err
		}
		check("history of p_ann", gotChanges, changes)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dumpFile lists every bucket of the bbolt file at path with its sequence,
// and every key and value in it (quoteBytes), in key order. The file is read
// from a copy, so a checked-in fixture is never opened for writing.
func dumpFile(t *testing.T, path string) string {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "dump.db")
	copyFile(t, path, cp)
	db, err := bolt.Open(cp, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	err = db.View(func(btx *bolt.Tx) error {
		return btx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			fmt.Fprintf(&b, "bucket %s sequence %d\n", quoteBytes(name), bk.Sequence())
			return bk.ForEach(func(k, v []byte) error {
				if v == nil {
					return fmt.Errorf("bucket %q holds a nested bucket %q, which dumpFile does not list", name, k)
				}
				fmt.Fprintf(&b, "\t%s %s\n", quoteBytes(k), quoteBytes(v))
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// formatLine is the dump line of the layout version v.
func formatLine(v uint64) string {
	return fmt.Sprintf("\t%s %s\n", quoteBytes(metaFormat), quoteBytes(u64(v)))
}

// quoteBytes quotes b byte for byte: printable ASCII as it is, " and \
// escaped with \, every other byte as \xNN.
func quoteBytes(b []byte) string {
	out := make([]byte, 0, len(b)+2)
	out = append(out, '"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c < 0x20 || c > 0x7e:
			out = fmt.Appendf(out, "\\x%02x", c)
		default:
			out = append(out, c)
		}
	}
	return string(append(out, '"'))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func readFixture(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is missing: a new layout version needs its fixtures, run go test ./graph/embedded -run TestLayoutGolden -update (see upgrade.go)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The dataset written by this build's code must give, key for key and byte
// for byte, the golden dump of the current layout version. A change of
// keys, buckets or record encodings that keeps formatVersion fails here.
func TestLayoutGolden(t *testing.T) {
	dir := t.TempDir()
	writeLayoutDataset(t, dir)
	got := dumpFile(t, filepath.Join(dir, FileName))
	if !strings.Contains(got, formatLine(formatVersion)) {
		t.Fatalf("a new file does not record layout version %d:\n%s", formatVersion, got)
	}
	if *update {
		if err := os.WriteFile(layoutFixture(formatVersion, "dump"), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(layoutFixture(formatVersion, "db"))
		copyFile(t, filepath.Join(dir, FileName), layoutFixture(formatVersion, "db"))
		t.Logf("wrote %s and %s", layoutFixture(formatVersion, "db"), layoutFixture(formatVersion, "dump"))
		return
	}
	want := readFixture(t, layoutFixture(formatVersion, "dump"))
	if got != want {
		t.Errorf("the layout differs from %s, yet formatVersion is still %d.\n"+
			"A file written before this change would be misread: raise formatVersion and add an upgrade step (see upgrade.go).\n got:\n%s\nwant:\n%s",
			layoutFixture(formatVersion, "dump"), formatVersion, got, want)
	}
}

// Every checked-in file matches its dump, and reads back as the dataset.
func TestLayoutFixturesMatchTheirDumps(t *testing.T) {
	for v := uint64(oldestLayout); v <= formatVersion; v++ {
		db := layoutFixture(v, "db")
		readFixture(t, db)
		if got, want := dumpFile(t, db), readFixture(t, layoutFixture(v, "dump")); got != want {
			t.Errorf("%s does not match %s:\n got:\n%s\nwant:\n%s", db, layoutFixture(v, "dump"), got, want)
		}
	}
}

// Raising formatVersion without a step fails here; so does a step for a
// version this build does not upgrade from.
func TestEveryLayoutHasAnUpgradeStep(t *testing.T) {
	for v := uint64(oldestLayout); v < formatVersion; v++ {
		if upgrades[v] == nil {
			t.Errorf("formatVersion is %d but no upgrade step turns layout %d into %d: add upgrades[%d] (see upgrade.go)", formatVersion, v, v+1, v)
		}
	}
	for v := range upgrades {
		if v < oldestLayout || v >= formatVersion {
			t.Errorf("upgrades[%d] is outside the versions this build upgrades (%d to %d)", v, oldestLayout, formatVersion-1)
		}
	}
}

// openFixture copies the checked-in file of layout v into a new data dir.
func openFixture(t *testing.T, v uint64) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, layoutFixture(v, "db"), filepath.Join(dir, FileName))
	return dir
}

// Every checked-in file, of any layout this build upgrades, opens with this
// build's code and reads back as the dataset. A file of the current layout
// is opened as it is, with no copy made.
func TestUpgradeCheckedInLayouts(t *testing.T) {
	for v := uint64(oldestLayout); v <= formatVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			dir := openFixture(t, v)
			var told []Upgrade
			s, err := OpenWith(dir, Options{OnUpgrade: func(u Upgrade) { told = append(told, u) }})
			if err != nil {
				t.Fatal(err)
			}
			checkLayoutData(t, s)
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			backup := filepath.Join(dir, fmt.Sprintf("%s.v%d.bak", FileName, v))
			_, statErr := os.Stat(backup)
			if v == formatVersion {
				if len(told) != 0 || statErr == nil {
					t.Errorf("a file of the current layout was upgraded: told %+v, backup %v", told, statErr)
				}
				return
			}
			want := []Upgrade{{Path: filepath.Join(dir, FileName), From: v, To: formatVersion, Backup: backup}}
			if !reflect.DeepEqual(told, want) {
				t.Errorf("told %+v, want %+v", told, want)
			}
			if got, want := dumpFile(t, backup), readFixture(t, layoutFixture(v, "dump")); got != want {
				t.Errorf("the copy %s is not the file as it was:\n%s", backup, got)
			}
			if !strings.Contains(dumpFile(t, filepath.Join(dir, FileName)), formatLine(formatVersion)) {
				t.Errorf("the upgraded file does not record version %d", formatVersion)
			}
		})
	}
}

// nextLayout is this build's layout plus a version formatVersion+1 reached
// by step, as the next build will have it.
func nextLayout(step upgradeStep) layout {
	steps := maps.Clone(upgrades)
	steps[formatVersion] = step
	return layout{version: formatVersion + 1, oldest: oldestLayout, steps: steps}
}

// A file of the current layout, opened by the next version's code path,
// is copied aside, upgraded by the step in one transaction, given the new
// version, and reads back the same data.
func TestUpgradeToNextLayout(t *testing.T) {
	dir := openFixture(t, formatVersion)
	path := filepath.Join(dir, FileName)
	before := readFixture(t, layoutFixture(formatVersion, "dump"))
	calls := 0
	lay := nextLayout(func(btx *bolt.Tx) error {
		calls++
		if !btx.Writable() {
			return errors.New("the step runs in a read transaction")
		}
		if v := btx.Bucket(bucketMeta).Get(metaFormat); decodeU64(v) != formatVersion {
			return fmt.Errorf("the step sees version %d", decodeU64(v))
		}
		return nil
	})
	var told []Upgrade
	s, err := openLayout(dir, lay, Options{OnUpgrade: func(u Upgrade) { told = append(told, u) }})
	if err != nil {
		t.Fatal(err)
	}
	checkLayoutData(t, s)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("the step ran %d times, want 1", calls)
	}
	backup := path + fmt.Sprintf(".v%d.bak", formatVersion)
	if want := []Upgrade{{Path: path, From: formatVersion, To: formatVersion + 1, Backup: backup}}; !reflect.DeepEqual(told, want) {
		t.Errorf("told %+v, want %+v", told, want)
	}
	// The step changed nothing, so the upgraded file is the old one with
	// the new version, and the copy is the old one exactly.
	want := strings.Replace(before, formatLine(formatVersion), formatLine(formatVersion+1), 1)
	if got := dumpFile(t, path); got != want {
		t.Errorf("upgraded file:\n got:\n%s\nwant:\n%s", got, want)
	}
	if got := dumpFile(t, backup); got != before {
		t.Errorf("the copy %s is not the file as it was:\n%s", backup, got)
	}

	// Opened again, it is not upgraded again.
	s, err = openLayout(dir, lay, Options{OnUpgrade: func(u Upgrade) { told = append(told, u) }})
	if err != nil {
		t.Fatal(err)
	}
	checkLayoutData(t, s)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(told) != 1 {
		t.Errorf("reopening ran the step again: %d calls, told %+v", calls, told)
	}
	// This build refuses the newer file, unchanged.
	if s, err := Open(dir); err == nil {
		_ = s.Close(context.Background())
		t.Error("this build opened a file of a newer layout")
	} else if !strings.Contains(err.Error(), fmt.Sprintf("layout version %d, written by a newer build", formatVersion+1)) {
		t.Errorf("refusal %q does not say the file is newer", err)
	}
	if got := dumpFile(t, path); got != want {
		t.Errorf("the refused file changed:\n%s", got)
	}
}

// A failing step leaves the file at its version with nothing of the step
// applied, says where the copy is, and a later attempt makes a new copy
// rather than overwrite the first.
func TestFailedUpgradeLeavesTheFile(t *testing.T) {
	dir := openFixture(t, formatVersion)
	path := filepath.Join(dir, FileName)
	before := readFixture(t, layoutFixture(formatVersion, "dump"))
	failing := nextLayout(func(btx *bolt.Tx) error {
		if err := btx.Bucket(bucketProfiles).Delete([]byte("p_ann")); err != nil {
			return err
		}
		return errors.New("disk on fire")
	})
	backup := path + fmt.Sprintf(".v%d.bak", formatVersion)
	_, err := openLayout(dir, failing, Options{})
	if err == nil {
		t.Fatal("a failing upgrade step opened the store")
	}
	for _, part := range []string{"disk on fire", fmt.Sprintf("from version %d to %d", formatVersion, formatVersion+1), backup} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not say %q", err, part)
		}
	}
	if got := dumpFile(t, path); got != before {
		t.Errorf("the file changed after a failed upgrade:\n%s", got)
	}
	if got := dumpFile(t, backup); got != before {
		t.Errorf("the copy %s is not the file as it was", backup)
	}
	var told []Upgrade
	s, err := openLayout(dir, nextLayout(func(*bolt.Tx) error { return nil }), Options{OnUpgrade: func(u Upgrade) { told = append(told, u) }})
	if err != nil {
		t.Fatal(err)
	}
	checkLayoutData(t, s)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || told[0].Backup != backup+".2" {
		t.Errorf("second attempt told %+v, want a copy at %s", told, backup+".2")
	}
	if got := dumpFile(t, backup); got != before {
		t.Errorf("the first copy %s was overwritten", backup)
	}
}

// writeVersionOnly creates a file holding only a layout version.
func writeVersionOnly(t *testing.T, dir string, v []byte) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(btx *bolt.Tx) error {
		b, err := btx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(metaFormat, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// Layouts older than the oldest step, newer than this build, or unreadable
// are refused with the versions named, and the file is left as it was,
// with no copy made.
func TestOpenRefusesLayoutsItCannotUpgrade(t *testing.T) {
	for _, tc := range []struct {
		stored []byte
		want   []string
	}{
		{u64(1), []string{"layout version 1", "cannot upgrade", fmt.Sprintf("versions %d to %d", oldestLayout, formatVersion)}},
		{u64(oldestLayout - 1), []string{fmt.Sprintf("layout version %d", oldestLayout-1), "cannot upgrade"}},
		{u64(formatVersion + 1), []string{fmt.Sprintf("layout version %d, written by a newer build", formatVersion+1), fmt.Sprintf("up to %d", formatVersion)}},
		{[]byte{1, 2, 3}, []string{"unreadable layout version 010203", fmt.Sprintf("reads version %d", formatVersion)}},
	} {
		dir := t.TempDir()
		writeVersionOnly(t, dir, tc.stored)
		before := dumpFile(t, filepath.Join(dir, FileName))
		s, err := Open(dir)
		if err == nil {
			_ = s.Close(context.Background())
			t.Errorf("Open accepted a file holding layout version %x", tc.stored)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open error %q does not say %q", err, w)
			}
		}
		if got := dumpFile(t, filepath.Join(dir, FileName)); got != before {
			t.Errorf("Open changed a file it refused:\n%s", got)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Errorf("Open left files beside one it refused: %v", entries)
		}
	}
}

// eachFixture opens a copy of the fixture of every layout from
// oldestLayout on, and runs fn on it in a subtest named after the layout.
func eachFixture(t *testing.T, fn func(t *testing.T, v uint64, s *Store)) {
	t.Helper()
	for v := uint64(oldestLayout); v <= formatVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			s, err := Open(openFixture(t, v))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			fn(t, v, s)
		})
	}
}
