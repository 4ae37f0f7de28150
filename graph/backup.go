package graph

import (
	"context"
	"io"
)

// Backupper is a store that can copy itself whole while it serves: the
// embedded store, whose copy is a database file that opens as the store.
// A store backed up by its own database's tools (Neo4j: neo4j-admin
// database dump) does not implement it.
type Backupper interface {
	// Backup writes a consistent copy of the whole store, as of one
	// moment, while reads and writes go on. Once that moment is fixed it
	// calls begin with the copy's exact size in bytes, then writes that
	// many bytes to the writer begin returns, and returns the bytes
	// written. An error from begin ends the backup before anything is
	// written and is returned as it is. A canceled ctx, or a failing
	// writer, ends the copy early with that error: what was written is
	// then incomplete and must be thrown away.
	Backup(ctx context.Context, begin func(size int64) (io.Writer, error)) (int64, error)
}
