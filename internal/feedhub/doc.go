// Package feedhub tails the change feed (graph.FeedStore) once per process
// and fans its entries out to subscribers (GraphQL subscriptions).
//
// One goroutine polls the store for the entries after the last it saw,
// every Config.Poll and whenever Wake is called (after a local commit), so
// that a subscriber on any process sees changes committed by any other
// process on the same database. Each subscriber has a bounded buffer: a
// subscriber that lets it overflow is closed with ErrSlow, and resumes
// from the last entry it received. A subscriber that starts after an
// earlier entry first reads the entries it missed from the store, then
// joins the live stream with no gap and no duplicate. A subscriber whose
// next entries the feed's retention trims before they are sent ends with a
// *graph.CursorExpiredError instead of skipping them.
package feedhub
