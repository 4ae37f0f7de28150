package resolver

import (
	"context"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// QueryCacheSize is how many parsed documents the GraphQL endpoint keeps.
const QueryCacheSize = 1000

// QueryCacheMaxAge is the longest a parsed document stays in the cache.
const QueryCacheMaxAge = 10 * time.Minute

// queryCache is the endpoint's parsed-document cache (gqlgen's
// graphql.Cache): the QueryCacheSize documents used last, by query text,
// so that a repeated query skips parsing and validation.
//
// A query may carry personal data in its text (`profileByIdentifier(type:
// "email", value: "ann@example.com")`), and the cached document holds it.
// So an erasure this process runs empties the cache (purge), and a document
// older than QueryCacheMaxAge is parsed again, which bounds how long one
// outlives an erasure another process ran.
type queryCache struct {
	docs *lru.Cache[string, cachedDoc]
	now  func() time.Time
}

type cachedDoc struct {
	doc *ast.QueryDocument
	at  time.Time
}

func newQueryCache() *queryCache {
	docs, err := lru.New[string, cachedDoc](QueryCacheSize)
	if err != nil {
		panic(err) // only for a size under 1
	}
	return &queryCache{docs: docs, now: time.Now}
}

// Get returns the document cached for query, unless it is older than
// QueryCacheMaxAge.
func (c *queryCache) Get(_ context.Context, query string) (*ast.QueryDocument, bool) {
	d, ok := c.docs.Get(query)
	if !ok {
		return nil, false
	}
	if c.now().Sub(d.at) > QueryCacheMaxAge {
		c.docs.Remove(query)
		return nil, false
	}
	return d.doc, true
}

// Add caches doc for query.
func (c *queryCache) Add(_ context.Context, query string, doc *ast.QueryDocument) {
	c.docs.Add(query, cachedDoc{doc: doc, at: c.now()})
}

// purge empties the cache; a nil cache is empty.
func (c *queryCache) purge() {
	if c != nil {
		c.docs.Purge()
	}
}
