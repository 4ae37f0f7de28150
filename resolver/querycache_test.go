package resolver

import (
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/internal/storetest"
)

// cachedWith reports whether a document cached by c has s in its text.
func cachedWith(c *queryCache, s string) bool {
	for _, q := range c.docs.Keys() {
		if strings.Contains(q, s) {
			return true
		}
	}
	return false
}

// TestErasureEmptiesQueryCache: a value written inline in a query stays in
// the parsed-document cache until an erasure: forgetIdentifier,
// removeIdentifier and forgetProfile each empty the cache, the text of the
// erasure itself included.
func TestErasureEmptiesQueryCache(t *testing.T) {
	e := newEnv(t, storetest.Embedded(t), testConfig(), nil)
	qc := e.handler.queries
	e.apply(
		ev("m-ann", t0, "identify", "user_id:ann", "email:ann@example.com"),
		ev("m-bob", t0, "identify", "user_id:bob", "email:bob@example.com"),
		ev("m-cy", t0, "identify", "user_id:cy", "email:cy@example.com"),
	)
	lookup := func(email string) string {
		var out struct{ ProfileByIdentifier struct{ ID string } }
		e.query(`{ profileByIdentifier(type: "email", value: "`+email+`") { id } }`, nil, &out)
		if !cachedWith(qc, email) {
			t.Fatalf("the lookup of %s is not in the query cache", email)
		}
		return out.ProfileByIdentifier.ID
	}
	for _, c := range []struct {
		email, erasure string
	}{
		{"ann@example.com", `mutation { forgetIdentifier(identifier: {type: "email", value: "ann@example.com"}, reason: "asked") { id } }`},
		{"bob@example.com", `mutation { removeIdentifier(type: "email", value: "bob@example.com", reason: "typo") { id } }`},
		{"cy@example.com", `mutation { forgetProfile(id: "PID", reason: "asked") { id } }`},
	} {
		pid := lookup(c.email)
		lookup("carol@example.com") // not erased, and still emptied
		e.query(strings.ReplaceAll(c.erasure, "PID", pid), nil, nil)
		if n := qc.docs.Len(); n != 0 {
			t.Errorf("after %.40s..., the query cache holds %d documents (%q), want none", c.erasure, n, qc.docs.Keys())
		}
	}
}

// TestQueryCacheMaxAge: a cached document older than QueryCacheMaxAge is
// not used (it is parsed again), and leaves the cache.
func TestQueryCacheMaxAge(t *testing.T) {
	c := newQueryCache()
	now := t0
	c.now = func() time.Time { return now }
	const q = `{ profileByIdentifier(type: "email", value: "ann@example.com") { id } }`
	c.Add(t.Context(), q, nil)
	now = now.Add(QueryCacheMaxAge)
	if _, ok := c.Get(t.Context(), q); !ok {
		t.Fatalf("a document exactly QueryCacheMaxAge old is not found")
	}
	now = now.Add(time.Second)
	if _, ok := c.Get(t.Context(), q); ok {
		t.Fatalf("a document older than QueryCacheMaxAge is still used")
	}
	if c.docs.Len() != 0 {
		t.Errorf("the expired document stays in the cache: %q", c.docs.Keys())
	}
}
