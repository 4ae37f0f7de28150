// Package embedded is the zero-setup store: the whole identity graph in one
// bbolt file, dir/cdp.db, with no server to run.
//
// bbolt allows one write transaction at a time, so every Update runs alone
// and the concurrency rule of the Store contract holds by construction; the
// Lock methods have nothing left to lock. Commits are fsynced, so an
// acknowledged write survives a crash. Every relationship of the graph model
// is kept as an index bucket ordered for the reads the engine makes, so each
// read costs the size of its answer, never a scan of the file.
package embedded
