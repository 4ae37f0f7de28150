package main

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// A destination's secret of 16 bytes but 8 characters (two-byte letters),
// which stores took while the limit counted bytes, is copied as it is:
// embedded to embedded, to Neo4j and back, where it signs the deliveries
// of a destination that goes on working. On the target an update that
// keeps the secret is taken, with a new name too; one that gives such a
// secret anew is refused, as a create is.
func TestCopyKeepsSecretsStoredBeforeCharactersWereCounted(t *testing.T) {
	ctx := context.Background()
	const legacy = "éééééééé" // 8 characters, 16 bytes
	src, d := legacyDestination(t, "secret", legacy)

	check := func(what string, s graph.Store) {
		t.Helper()
		ds := s.(destination.Store)
		got, err := ds.Destination(ctx, d.ID)
		storetest.Must(t, err)
		if got.Secret != legacy {
			t.Errorf("%s: the destination's secret is %q, want %q", what, got.Secret, legacy)
		}
		// An update keeping the secret is taken; a new one is checked
		// by characters.
		got.URL, got.Name = "https://hooks.example/new", what
		if _, err := ds.UpdateDestination(ctx, got); err != nil {
			t.Errorf("%s: update keeping the secret, with a new name: %v", what, err)
		}
		got.Secret = "ëëëëëëëë"
		_, err = ds.UpdateDestination(ctx, got)
		storetest.WantCode(t, err, graph.EINVALID, what+": a new secret of 8 characters")
		if again, err := ds.Destination(ctx, d.ID); err != nil || again.Secret != legacy || again.URL != "https://hooks.example/new" || again.Name != what {
			t.Errorf("%s: after the refused update: secret %q url %q name %q (%v), want %q, the new URL and name", what, again.Secret, again.URL, again.Name, err, legacy)
		}
		c := got
		c.ID, c.Secret = destination.NewID(), "ëëëëëëëë"
		_, err = ds.CreateDestination(ctx, c)
		storetest.WantCode(t, err, graph.EINVALID, what+": a create with a secret of 8 characters")
	}

	copyEachWay(t, src, check)
}

// legacyDestination makes an embedded store (in a new directory, src)
// with one event and one destination, d, whose field it then sets to value
// as an older version took it, past today's checks (oldDestField).
func legacyDestination(t *testing.T, field string, value any) (src string, d destination.Destination) {
	t.Helper()
	ctx := context.Background()
	src = t.TempDir()
	ingestEvents(t, src, map[string][]string{"a1": {"user_id:u1"}})
	created := time.Date(2026, 2, 1, 9, 30, 0, 0, time.UTC)
	st, err := embedded.Open(src)
	storetest.Must(t, err)
	d, err = st.CreateDestination(ctx, destination.Destination{ID: destination.NewID(), Name: "crm", URL: "https://hooks.example/old",
		Secret: "s3cret-old-0123456789abcdef", Headers: map[string]string{"X-Token": "ab"}, CreatedAt: created, UpdatedAt: created})
	storetest.Must(t, err)
	storetest.Must(t, st.Close(ctx))
	oldDestField(t, filepath.Join(src, embedded.FileName), d.ID, field, value)
	return src, d
}

// oldDestField sets, in the embedded store file at path, the field of
// destination id's record to value, as JSON.
func oldDestField(t *testing.T, path, id, field string, value any) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	storetest.Must(t, err)
	defer db.Close()
	storetest.Must(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("destinations"))
		var rec map[string]json.RawMessage // numbers kept as written
		if err := json.Unmarshal(b.Get([]byte(id)), &rec); err != nil {
			return err
		}
		v, err := json.Marshal(value)
		if err != nil {
			return err
		}
		rec[field] = v
		if v, err = json.Marshal(rec); err != nil {
			return err
		}
		return b.Put([]byte(id), v)
	}))
}

// A destination's header value with a control character other than CR,
// LF and NUL (here SOH), which stores took before such values were
// refused, is copied as it is: embedded to embedded, to Neo4j and back.
// On the target an update that keeps the headers is taken, with a new
// name too; one that gives such a value anew is refused, as a create is.
func TestCopyKeepsHeaderValuesStoredBeforeTheControlRule(t *testing.T) {
	ctx := context.Background()
	legacy := map[string]string{"X-Token": "a\x01b"}
	src, d := legacyDestination(t, "headers", legacy)

	check := func(what string, s graph.Store) {
		t.Helper()
		ds := s.(destination.Store)
		got, err := ds.Destination(ctx, d.ID)
		storetest.Must(t, err)
		if !maps.Equal(got.Headers, legacy) {
			t.Errorf("%s: the destination's headers are %q, want %q", what, got.Headers, legacy)
		}
		// An update keeping the headers is taken; a new value is checked
		// by today's rule.
		got.URL, got.Name = "https://hooks.example/new", what
		if _, err := ds.UpdateDestination(ctx, got); err != nil {
			t.Errorf("%s: update keeping the headers, with a new name: %v", what, err)
		}
		got.Headers = map[string]string{"X-Token": "c\x01d"}
		_, err = ds.UpdateDestination(ctx, got)
		storetest.WantCode(t, err, graph.EINVALID, what+": a new header value with SOH")
		if again, err := ds.Destination(ctx, d.ID); err != nil || !maps.Equal(again.Headers, legacy) || again.URL != "https://hooks.example/new" || again.Name != what {
			t.Errorf("%s: after the refused update: headers %q url %q name %q (%v), want %q, the new URL and name", what, again.Headers, again.URL, again.Name, err, legacy)
		}
		c := got
		c.ID, c.Headers = destination.NewID(), legacy
		_, err = ds.CreateDestination(ctx, c)
		storetest.WantCode(t, err, graph.EINVALID, what+": a create with a header value holding SOH")
	}

	copyEachWay(t, src, check)
}
