// Package dump is the logical record stream of an identity graph store, the
// ground `cdp copy` stands on: a Reader pages through every record of a
// kind in a stable order, Load writes a batch of records into a store as
// they are, without the resolution engine (the partition is copied, not
// recomputed), and Verify compares two stores by counts and a checksum of
// the partition.
//
// The record types are those of package graph. Each store implements
// Reader in a file of its own (graph/embedded/dump.go,
// graph/neo4jstore/dump.go); Load needs only graph.Store, since every
// kind of record is written by the store's own Tx.Apply, which on Neo4j
// costs a fixed number of UNWIND statements per batch.
package dump
