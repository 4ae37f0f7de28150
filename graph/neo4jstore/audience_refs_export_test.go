package neo4jstore

// audienceRefQueries are the statements that keep the references between
// audiences and computed traits (qLockRefs), and the walk of a filter's
// inAudience conditions (qLockAudiences, qAudienceFilters), with
// parameters that plan
// like real ones, for AudienceQueries. qAudiencesNaming is not among them:
// it reads every audience (at most audience.MaxAudiences), on a delete
// only.
func audienceRefQueries() []PlannedQuery {
	id := "seg_00000000000000000000000000000001"
	refs := map[string]any{"computed": []any{"ltv", "orders"}, "audiences": []any{id, "seg_00000000000000000000000000000002"}}
	return []PlannedQuery{
		{"LockRefs", qLockRefs, refs},
		{"RefsStored", qRefsStored, refs},
		{"LockComputedTrait", qLockComputedTrait, map[string]any{"name": "ltv"}},
		{"LockAudienceNode", qLockAudienceNode, map[string]any{"id": id}},
		{"LockAudiences", qLockAudiences, map[string]any{"ids": []any{id}}},
		{"AudienceFilters", qAudienceFilters.text, map[string]any{"ids": []any{id}}},
	}
}
