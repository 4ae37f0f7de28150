// Package ingest takes customer events in: a Segment-compatible HTTP
// collector (/v1/track, /v1/identify, ... /v1/batch), the Segment message
// parser it shares with the GraphQL ingest mutation, a group commit that
// lets concurrent requests share one store transaction per micro-batch, and
// the client side of bulk file import.
//
// Nothing is acknowledged before it is committed: Submit returns only once
// the micro-batch holding the events has been written (or has failed).
// README.md beside this file documents every endpoint, status and limit.
//
// # Write keys
//
// A request names its key as the Basic auth user name (empty password) or
// as writeKey in the body; a key in the header is checked before the body
// is read. Static keys (Config.WriteKeys, CDP_WRITE_KEYS) map to their
// source names. The service's API keys ("cdp_...", with events:write) are
// write keys too: Config.Keys checks them, refuses with 401, 403 or 429
// (with Retry-After), and labels the events with the key's source. With
// no static keys, a request without a known key is refused with 401 while
// Config.Keys enforces keys, and accepted otherwise (source "default", or
// the X-CDP-Source header's). A source header that disagrees with the
// key's source is refused.
//
// # Hooks
//
// A Submit call whose context carries a graph.EventsHook has it run in the
// transaction of the micro-batch that stores its events, with its own
// results only: what the hook writes (the GraphQL ingest mutation's audit
// entry) commits exactly when the call's events do.
//
// # Suppression
//
// With Config.Suppression set, each micro-batch hashes the normalized keys
// of its events' identifiers and looks them up in one call; an event that
// carries a suppressed identifier (an erased person's) is not stored, and
// its result is rejected with Reason ReasonSuppressed.
package ingest
