// Package destination holds webhook destinations: the definitions, their
// storage contract (Store, checked on every store by destinationtest), the
// checks that keep a destination from reaching private addresses (SSRF),
// and the Worker that delivers the change feed (graph.FeedStore) to each
// destination as signed JSON batches, at least once, in feed order, one
// process per destination at a time under a lease.
package destination
