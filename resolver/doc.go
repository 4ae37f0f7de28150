// Package resolver serves the GraphQL API: the gqlgen resolvers (thin: they
// translate and call graph.Engine), the per-request dataloaders that keep
// every query at a fixed number of store reads, opaque cursors, and the
// hardened HTTP handler (explicit transports, body, token, depth, page and
// complexity limits, error presenter, panic recovery).
//
// Access control: the @hasScope directive (scope.go), masking of personal
// values for callers without pii:read (mask.go), the audit log of every
// mutation and unmasked personal read (audit.go, AuditWriter), and the key
// management and audit log fields (keys.go).
//
// Audiences and computed traits (audiences.go): their definitions,
// Profile.computed computed at read from the profile's journey, and reads
// of the membership the audience keeper writes.
//
// The generated executable schema lives in package gql; regenerate it with
// `go generate ./...` from the repository root.
package resolver
