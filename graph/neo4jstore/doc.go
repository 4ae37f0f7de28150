// Package neo4jstore is the Neo4j implementation of graph.Store: Cypher over
// neo4j-go-driver v5, and the schema (constraints and indexes) it needs.
//
// The graph it writes is the model of DESIGN.md, which analysts query
// directly; model.go names every label, relationship type and property key,
// and every query is built from those names once, at init. Each ReadTx and
// Tx method costs a fixed number of round trips whatever the batch size:
// rows travel as one UNWIND list.
package neo4jstore
