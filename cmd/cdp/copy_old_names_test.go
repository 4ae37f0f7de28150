package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
	bolt "go.etcd.io/bbolt"
)

// Names with a C1 control character (NEL, CSI), which keys and
// destinations took before the rule against them, are copied as they are:
// embedded to embedded, to Neo4j and back. On the target the destination
// is updated keeping its name; a new name with such a character is still
// refused there.
func TestCopyKeepsNamesStoredBeforeTheControlRule(t *testing.T) {
	ctx := context.Background()
	const keyName, destName = "bot \u0085legacy", "crm \u009b2J"
	src := t.TempDir()
	ingestEvents(t, src, map[string][]string{"a1": {"user_id:u1"}})
	created := time.Date(2026, 2, 1, 9, 30, 0, 0, time.UTC)
	st, err := embedded.Open(src)
	storetest.Must(t, err)
	storetest.Must(t, st.CreateKey(ctx, access.Key{ID: "key_old", Name: "placeholder", Scopes: []access.Scope{access.ScopeProfilesRead},
		Hash: sha256Hex("secret old"), CreatedAt: created}))
	d, err := st.CreateDestination(ctx, destination.Destination{ID: destination.NewID(), Name: "placeholder", URL: "https://hooks.example/old",
		Secret: "s3cret-old-0123456789abcdef", CreatedAt: created, UpdatedAt: created})
	storetest.Must(t, err)
	storetest.Must(t, st.Close(ctx))
	// Write the names as an older version did, past today's checks.
	oldNames(t, filepath.Join(src, embedded.FileName), map[string]map[string]string{
		"api_keys": {"key_old": keyName}, "destinations": {d.ID: destName}})

	check := func(what string, s graph.Store) {
		t.Helper()
		ks, err := s.(access.Store).Keys(ctx, 10, "")
		storetest.Must(t, err)
		if len(ks) != 1 || ks[0].ID != "key_old" || ks[0].Name != "bot \u0085legacy" {
			t.Errorf("%s: keys %+v, want key_old named %q", what, ks, "bot \u0085legacy")
		}
		ds := s.(destination.Store)
		got, err := ds.Destination(ctx, d.ID)
		storetest.Must(t, err)
		if got.Name != "crm \u009b2J" {
			t.Errorf("%s: destination named %q, want %q", what, got.Name, "crm \u009b2J")
		}
		// An update keeping the name is taken; a new name with a C1
		// character is not.
		got.URL = "https://hooks.example/new"
		if _, err := ds.UpdateDestination(ctx, got); err != nil {
			t.Errorf("%s: update keeping the name: %v", what, err)
		}
		got.Name = "crm \u009b3J"
		_, err = ds.UpdateDestination(ctx, got)
		storetest.WantCode(t, err, graph.EINVALID, what+": rename to a C1 name")
	}

	copyEachWay(t, src, check)
}

// oldNames sets, in the embedded store file at path, the "name" of JSON
// records: names[bucket][key] is the name to write.
func oldNames(t *testing.T, path string, names map[string]map[string]string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	storetest.Must(t, err)
	defer db.Close()
	storetest.Must(t, db.Update(func(tx *bolt.Tx) error {
		for bucket, byKey := range names {
			b := tx.Bucket([]byte(bucket))
			for k, name := range byKey {
				var rec map[string]json.RawMessage // numbers kept as written
				if err := json.Unmarshal(b.Get([]byte(k)), &rec); err != nil {
					return err
				}
				n, err := json.Marshal(name)
				if err != nil {
					return err
				}
				rec["name"] = n
				v, err := json.Marshal(rec)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(k), v); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}
