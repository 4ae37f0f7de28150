package neo4jstore

import "github.com/idgraph/cdp/graph/dump"

// KeysetPageQueries are the pages that walk a client-chosen string
// (identifier key, event id) past a cursor, $after: the dump's (cdp copy)
// and the slots backfill's. order_test.go checks that each walks its
// index in order, so that its bound and its order are both the index's
// (code point order), and that paging through them misses nothing.
func KeysetPageQueries() []PlannedQuery {
	p := func() map[string]any { return map[string]any{"after": "", "limit": int64(10)} }
	return []PlannedQuery{
		{"DumpIdentifiers", qPage[dump.Identifiers], p()},
		{"DumpLinks", qPage[dump.Links], p()},
		{"DumpRejected", qPage[dump.Rejected], p()},
		{"DumpEvents", qPage[dump.Events], p()},
		{"BackfillIdentifiers", qIdentifierTraitsPage, p()},
		{"BackfillEvents", qEventPropertiesPage, p()},
	}
}
