// Package privacy holds the types and rules of consent and privacy rights.
// This first part is the consent ledger's domain: purposes (from the rules
// file, graph.Rules.Consent), consent records and their validation, the
// state rule (StateOf, States, History), and the parsing of Segment's
// consent conventions (FromSegment). It does no I/O of its own and imports
// only graph. Exporter (export.go) builds data exports through the engine's
// reads.
//
// # The state rule
//
// A profile's consent state for a purpose is its newest record for that
// purpose across all its identifiers. Records are ordered by Compare: by
// At (when the person decided), then by ReceivedAt (when the service
// stored it), then by ID; the greatest is the newest. A GRANTED record whose
// ExpiresAt has passed (ExpiresAt <= now) gives EXPIRED; a denial or a
// withdrawal does not expire. No record gives UNKNOWN.
package privacy
