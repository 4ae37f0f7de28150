package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// A source that never made a suppression secret (a store that only ever
// held API keys; every store of a layout before 7 until a server runs on
// it) copied into a target a server has opened, which holds a secret of
// its own keying no hash: the target counts as empty, the copy is made,
// and its verification matches, since a secret that keys nothing on
// either side is state every server makes, not a record. On both kinds of
// target.
func TestCopyFromASourceWithoutASecret(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	st, err := embedded.Open(src)
	storetest.Must(t, err)
	created := time.Date(2026, 2, 1, 9, 30, 0, 0, time.UTC)
	storetest.Must(t, st.CreateKey(ctx, access.Key{ID: "key_ops", Name: "ops", Scopes: []access.Scope{access.Scope("keys:admin")},
		Hash: sha256Hex("ops secret"), CreatedAt: created}))
	if key, err := st.StoredSuppressionKey(ctx); err != nil || key != nil {
		t.Fatalf("the source holds a secret (%v); the test needs none", err)
	}
	storetest.Must(t, st.Close(ctx))

	for _, target := range copyTargets() {
		t.Run(target.name, func(t *testing.T) {
			dst, during, flags, _ := target.open(t)
			// What a server does as it starts.
			if _, err := dst.(privacy.SuppressionStore).SuppressionKey(ctx); err != nil {
				t.Fatal(err)
			}
			var out, errOut string
			var code int
			during(func() {
				out, errOut, code = copyRun(t, append([]string{"--from-data-dir", src}, flags...)...)
			})
			if code != 0 || !strings.Contains(out, "match: counts") {
				t.Fatalf("copy from a source without a secret into a target with one of its own: exit %d\n%s\n%s", code, out, errOut)
			}
			if got := copyTable(out)["api_keys"]; got != [2]string{"1", "1"} {
				t.Errorf("api_keys %v, want 1 on both sides", got)
			}
		})
	}
}
