// Package auth is the service's authentication guard: it decides whether
// API keys are enforced, authenticates the key of a request, rate-limits
// each key, and puts the caller (an access.Principal) in the request's
// context for the GraphQL scope checks.
//
// # Modes
//
//   - Enforced: every request to GraphQL, the collector and /metrics needs
//     a usable key ("Authorization: Bearer cdp_..." for GraphQL and
//     /metrics; the collector takes it as a Segment write key through
//     WriteKey). A guard is enforced when built Required (the server is
//     bound to a non-loopback address, or runs with --auth=required), and
//     as soon as the store holds a key, revoked and expired ones included.
//     Once enforced it stays enforced: deleting keys never opens a server.
//     A store that cannot count its keys counts as enforced (fail closed).
//   - Open: a loopback server with no key stored, the newcomer's first run.
//     Every caller holds every scope (access.OpenPrincipal) and any bearer
//     is ignored; the server answers only a loopback Host (DNS rebinding).
//     The key count is re-read at most every 500 ms, so the first key
//     created anywhere turns enforcement on within a second.
//
// # Keys
//
// A secret is shape-checked (access.CheckSecret) before any store read, so
// garbage never reaches the store. A key found by its hash is cached for at
// most 500 ms, so a key revoked on another replica is refused within a
// second; Invalidate drops it at once on the replica that revoked it.
// Expiry and revocation (access.Key.Usable) are checked on every request.
// A key's last use is recorded at most once a minute, in the background.
//
// # Rate limits
//
// Each key has one token bucket per kind of endpoint: GraphQL, the
// collector and plain endpoints such as /metrics are limited apart, so a
// busy event source cannot starve the same key's reads. Past the bucket a
// request gets 429 with Retry-After.
package auth
