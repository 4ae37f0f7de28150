package neo4jstore

import "time"

// DestinationQueries are the keyed and paged reads and writes of
// destination.go, with parameters, for plan tests.
func DestinationQueries() []PlannedQuery {
	id := "dst_00000000000000000000000000000001"
	now := time.Date(2026, 7, 1, 9, 0, 0, 0, utc)
	return []PlannedQuery{
		{"Destination", qDestination, map[string]any{"id": id}},
		{"DestinationPage", qDestinationPage, map[string]any{"after": "", "limit": int64(10)}},
		{"AcquireLease", qAcquireLease, map[string]any{"id": id, "holder": "a", "now": now, "until": now}},
		{"LockForWork", qLockForWork, map[string]any{"id": id, "holder": "a", "now": now, "statuses": inFlightStatuses}},
		{"InFlight", qInFlight, map[string]any{"id": id, "statuses": inFlightStatuses}},
		{"RecordAttempt", qRecordAttempt, map[string]any{"id": id, "number": int64(1), "statuses": inFlightStatuses,
			"status": "DEAD", "attempts": int64(1), "next": nil, "code": nil, "error": nil, "at": now, "delivered": "DELIVERED"}},
		{"Deliveries", qDeliveries, map[string]any{"id": id, "before": int64(1 << 62), "limit": int64(10)}},
		{"DeliveriesOf", qDeliveriesOf, map[string]any{"id": id, "status": "DEAD", "before": int64(1 << 62), "limit": int64(10)}},
		{"ReplayDead", qReplayDead, map[string]any{"id": id, "dead": "DEAD", "pending": "PENDING", "now": now, "limit": int64(10)}},
		{"DeleteDeliveries", qDeleteDeliveries, map[string]any{"id": id}},
		{"PruneDelivered", qPruneDelivered, map[string]any{"id": id, "delivered": "DELIVERED", "before": now, "limit": int64(10)}},
		{"Undelivered", qUndelivered, map[string]any{"statuses": undeliveredStatuses}},
		{"RewriteEntries", qRewriteEntries, map[string]any{"rows": []any{map[string]any{"id": id, "number": int64(1), "entries": "[]"}}}},
	}
}
