// Package dump is the logical record stream of a store, the ground
// `cdp copy` stands on: every kind of record (Kind) is read page by page in
// a stable order and written back as it is, without the resolution engine
// or the audience keeper (what is copied is not recomputed), and two stores
// are compared by counts, a checksum of the partition (Partition) and
// checksums of the content of every kind (Stream.ContentSums; of
// destinations, all but their leases, which a copy does not carry).
// Whether a store is an empty target, records and
// the feed's marks and any leftover state, is Stream.Holdings.
//
// The graph kinds use the record types of package graph: each store
// implements Reader for them in a file of its own (graph/embedded/dump.go,
// graph/neo4jstore/dump.go), and Load writes them through the store's own
// Tx.Apply, which on Neo4j costs a fixed number of UNWIND statements per
// batch. Stream adds the kinds of the capabilities a store holds (access,
// privacy, audiences), read and written through their contracts where
// those keep every field, and otherwise through PrivacyReader,
// AudienceReader and AudienceWriter, which both stores implement in the
// same files.
package dump
