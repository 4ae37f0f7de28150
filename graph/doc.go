// Package graph is the domain of the identity graph service: its types, the
// Store contract every backend implements, identifier normalization, the
// identity rules, and the resolution engine that turns events into profiles.
//
// The engine is written once. Stores only read and write what the engine
// asks for, inside one transaction per call, so the embedded store and the
// Neo4j store resolve identities identically. This package does no I/O of
// its own and imports no other package of the project.
package graph
