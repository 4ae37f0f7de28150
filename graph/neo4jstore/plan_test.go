package neo4jstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// profile runs q in a transaction that it rolls back, and returns the
// operators of its profiled plan, depth first. (The driver's Plan.Children
// returns the last child for every child, so EXPLAIN plans cannot be walked;
// profiled plans can.)
func profile(t *testing.T, s neo4j.SessionWithContext, q string, params map[string]any) []string {
	t.Helper()
	return profileAfter(t, s, "", q, params)
}

// profileAfter is profile with the statement first run first in the same
// transaction (none when empty). Neo4j caches a plan for a transaction that
// has written apart from one for a transaction that has not, as each of a
// batch's statements after the first runs.
func profileAfter(t *testing.T, s neo4j.SessionWithContext, first, q string, params map[string]any) []string {
	t.Helper()
	ctx := context.Background()
	tx, err := s.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if first != "" {
		res, err := tx.Run(ctx, first, nil)
		if err == nil {
			_, err = res.Consume(ctx)
		}
		if err != nil {
			t.Fatalf("%s: %v", first, err)
		}
	}
	res, err := tx.Run(ctx, "PROFILE "+q, params)
	if err != nil {
		t.Fatalf("profile: %v", err)
	}
	// The profile is complete only once every row has been read.
	if _, err := res.Collect(ctx); err != nil {
		t.Fatalf("profile: %v\n%s", err, q)
	}
	sum, err := res.Consume(ctx)
	if err != nil {
		t.Fatalf("profile: %v\n%s", err, q)
	}
	var ops []string
	var walk func(p neo4j.ProfiledPlan, depth int)
	walk = func(p neo4j.ProfiledPlan, depth int) {
		// Operators read like "NodeUniqueIndexSeek@neo4j".
		op, _, _ := strings.Cut(p.Operator(), "@")
		ops = append(ops, op)
		details, _ := p.Arguments()["Details"].(string)
		t.Logf("%s%s %s (rows %d, db hits %d)", strings.Repeat("  ", depth), op, strings.Join(strings.Fields(details), " "), p.Records(), p.DbHits())
		for _, c := range p.Children() {
			walk(c, depth+1)
		}
	}
	walk(sum.Profile(), 0)
	return ops
}

// clearQueryCaches drops every cached plan, so that the next run of a query
// is planned against the database as it is now.
func clearQueryCaches(t *testing.T, s neo4j.SessionWithContext) {
	t.Helper()
	ctx := context.Background()
	res, err := s.Run(ctx, "CALL db.clearQueryCaches()", nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err != nil {
		t.Fatalf("clear query caches: %v", err)
	}
}

func has(ops []string, pred func(string) bool) bool {
	for _, o := range ops {
		if pred(o) {
			return true
		}
	}
	return false
}

// scans are operators that visit every node of a label (or every node, or
// every relationship of a type): what an index seek is there to avoid.
func isScan(op string) bool {
	switch op {
	case "AllNodesScan", "NodeByLabelScan", "UnionNodeByLabelsScan", "IntersectionNodeByLabelsScan",
		"NodeIndexScan", "NodeIndexContainsScan", "NodeIndexEndsWithScan",
		"DirectedAllRelationshipsScan", "UndirectedAllRelationshipsScan",
		"DirectedRelationshipTypeScan", "UndirectedRelationshipTypeScan",
		"DirectedRelationshipIndexScan", "UndirectedRelationshipIndexScan":
		return true
	}
	return false
}

func isSeek(op string) bool { return strings.Contains(op, "IndexSeek") }

// The plans are made here on an empty database, as they are for the first
// batch a new deployment writes, both in a transaction that has written
// nothing and in one that has (Neo4j caches the two apart). Apply keeps its
// plans however the database grows (replan=skip), so they must already
// seek.
func TestHotQueriesSeekByIndex(t *testing.T) {
	storetest.Neo4j(t)
	s := rawSession(t)
	clearQueryCaches(t, s)
	for _, q := range neo4jstore.HotQueries() {
		// Planned twice: in a transaction that has written nothing yet,
		// and in one that has (every statement of a batch after its first).
		for _, first := range []string{"", "CREATE (:PlanTestWrite)"} {
			name := q.Name
			if first != "" {
				name += "/after a write"
			}
			t.Run(name, func(t *testing.T) {
				ops := profileAfter(t, s, first, q.Cypher, q.Params)
				if has(ops, isScan) || !has(ops, isSeek) {
					t.Fatalf("plan %v (after %q) scans instead of seeking by index", ops, first)
				}
			})
		}
	}
}

func TestAudienceQueriesSeekByIndex(t *testing.T) {
	storetest.Neo4j(t)
	s := rawSession(t)
	// The pages walk their index in order and stop after a page.
	inOrder := map[string]bool{"AudiencePage": true, "AudienceMembers": true, "AudienceChanges": true,
		"MembersOfAudiences": true, "ChangesOfAudiences": true}
	for _, q := range neo4jstore.AudienceQueries() {
		t.Run(q.Name, func(t *testing.T) {
			ops := profile(t, s, q.Cypher, q.Params)
			if has(ops, isScan) || !has(ops, isSeek) {
				t.Fatalf("plan %v scans instead of seeking by index", ops)
			}
			if inOrder[q.Name] && has(ops, func(o string) bool { return o == "Sort" || o == "Top" || o == "PartialSort" || o == "PartialTop" }) {
				t.Fatalf("plan %v sorts instead of walking the index in order", ops)
			}
		})
	}
}

func TestProfilesPageWalksIndexInOrder(t *testing.T) {
	storetest.Neo4j(t)
	s := rawSession(t)
	for _, q := range neo4jstore.PageQueries() {
		t.Run(q.Name, func(t *testing.T) {
			ops := profile(t, s, q.Cypher, q.Params)
			sorts := has(ops, func(o string) bool { return o == "Sort" || o == "Top" || o == "PartialSort" || o == "PartialTop" })
			if has(ops, isScan) || !has(ops, func(o string) bool { return strings.Contains(o, "IndexSeekByRange") }) || sorts {
				t.Fatalf("plan %v does not walk the Profile.id index in order", ops)
			}
		})
	}
}

func TestCountProfilesReadsCountStore(t *testing.T) {
	storetest.Neo4j(t)
	s := rawSession(t)
	ops := profile(t, s, neo4jstore.CountQuery(), nil)
	n := 0
	for _, o := range ops {
		if o == "NodeCountFromCountStore" {
			n++
		}
	}
	if n != 2 || has(ops, isScan) {
		t.Fatal(fmt.Sprintf("plan %v does not answer both counts from the count store", ops))
	}
}

func TestConsentPurposeSeeksByIndex(t *testing.T) {
	storetest.Neo4j(t)
	s := rawSession(t)
	ops := profile(t, s, neo4jstore.ConsentPurposeQuery(), map[string]any{"purpose": "fax"})
	if has(ops, isScan) || !has(ops, isSeek) {
		t.Fatalf("plan %v scans the consent records instead of seeking by index", ops)
	}
}

func TestFeedQueriesSeekByIndex(t *testing.T) {
	storetest.Neo4j(t)
	s := rawSession(t)
	for _, q := range neo4jstore.FeedQueries() {
		t.Run(q.Name, func(t *testing.T) {
			ops := profile(t, s, q.Cypher, q.Params)
			if has(ops, isScan) || !has(ops, isSeek) {
				t.Fatalf("plan %v scans instead of seeking by index", ops)
			}
			if (q.Name == "Feed" || q.Name == "LockFeedAt" || q.Name == "FeedAt") && has(ops, func(o string) bool { return o == "Sort" || o == "Top" || o == "PartialSort" || o == "PartialTop" }) {
				t.Fatalf("plan %v sorts instead of walking the index in order", ops)
			}
		})
	}
}

// A filter with an event of a name in a window reaches those events
// through the index on name and timestamp, and visits no profile without
// one.
func TestCompiledFilterSeeksEventsByTime(t *testing.T) {
	storetest.Neo4j(t)
	s := rawSession(t)
	f := audience.Filter{And: []audience.Filter{
		{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpExists}},
		{Event: &audience.EventCondition{Name: "Order", Within: "P30D"}},
		{Consent: &audience.ConsentCondition{Purpose: "email", Status: privacy.StateGranted}},
	}}
	q, params, err := neo4jstore.CompiledFilter(audience.FilterQuery{Filter: &f, Now: t0, Sample: 10})
	if err != nil {
		t.Fatal(err)
	}
	ops := profile(t, s, q, params)
	if has(ops, isScan) || !slices.Contains(ops, "NodeIndexSeek") {
		t.Fatalf("plan %v scans, or does not seek events by name and time", ops)
	}
}
