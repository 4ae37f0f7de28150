package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
)

// ScrubStats reports what Scrub did.
type ScrubStats struct {
	// FreePages is the number of free pages in the file when Scrub ran.
	FreePages int
	// ZeroedPages is the number of free pages that held any non-zero byte
	// and were overwritten with zeros; pages already zero are not written.
	ZeroedPages int
	// TailBytes is the number of bytes overwritten past the last page in
	// use (space the file was grown by that no commit uses); the file is
	// read in chunks of 1 MiB and a chunk is written whole when any byte
	// of it is not zero.
	TailBytes int64
	// Waits is how many times Scrub found pages still pending, kept for a
	// read transaction that began before the deleting commit, and waited.
	Waits int
}

// scrubPending is called each time Scrub finds pages still kept for an
// open read transaction, before it waits; tests use it to know Scrub is
// waiting.
var scrubPending = func() {}

// scrubChunk bounds the bytes Scrub reads or writes in one call.
const scrubChunk = 1 << 20

// Scrub overwrites with zeros every byte of the file that no committed
// state uses, so that no copy of a value deleted or overwritten by a
// commit that returned before Scrub was called is left in the file when
// Scrub returns nil.
//
// bbolt never writes a page in place: a commit writes the pages it changes
// to other places and frees the old ones, which keep their bytes until
// reused. A freed page is first pending, kept for the read transactions
// that began before the commit, and becomes free once they have all ended.
// Scrub therefore:
//
//  1. takes the Store's writer lock, so no commit frees pages until it
//     returns (Update waits meanwhile; reads go on);
//  2. commits an empty transaction, so that read transactions begun from
//     now on are newer than every freeing commit;
//  3. waits until bbolt reports no pending page, i.e. until every read
//     transaction that began before step 2 has ended (a read that began
//     before the deleting commit still sees the deleted values, and its
//     pages are left alone until it ends);
//  4. in a write transaction, which it never commits, lists the free pages
//     (then every page not reachable from the committed state) and the
//     space past the last page in use, and overwrites what is not already
//     zero through a second handle on the file, then fsyncs it.
//
// Zeroing a free page is what bbolt itself may do to it at any time by
// reusing it: no read transaction can reach it. The two meta pages hold
// only page numbers and counters, never keys or values; the store keeps
// no freelist page (NoFreelistSync). The empty commit of step 2 changes no
// page, so both meta pages then name the same tree and a zeroed page is out
// of reach of either, even if bbolt has to fall back to the older meta
// after a crash.
//
// Cost: one empty commit, a look-up for every page of the file, a read of
// every free page, a write of each free page that is not already zero, and
// one fsync. Writers wait for the whole of it, including the wait for old
// readers, or until their own context ends; readers never wait. If ctx
// ends first, Scrub returns its error and some free pages may be left as
// they were; calling it again finishes the work.
//
// Not covered: copies outside this file (the .bak files an upgrade leaves,
// backups, the file system's or the device's own remapped blocks).
func (s *Store) Scrub(ctx context.Context) (ScrubStats, error) {
	var st ScrubStats
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if s.closed.Load() {
		return st, graph.ErrUnavailable(errors.New("embedded store is closed"))
	}
	if err := s.lockWrite(ctx); err != nil {
		return st, err
	}
	defer s.unlockWrite()
	if err := s.db.Update(func(*bolt.Tx) error { return nil }); err != nil {
		return st, graph.ErrUnavailable(fmt.Errorf("scrub: commit the fence transaction: %w", err))
	}
	delay := time.Millisecond
	for {
		// Beginning a write transaction frees the pending pages no open
		// read transaction can see; its end records what is left pending.
		btx, err := s.db.Begin(true)
		if err != nil {
			return st, graph.ErrUnavailable(fmt.Errorf("scrub: begin: %w", err))
		}
		if err := btx.Rollback(); err != nil {
			return st, graph.ErrUnavailable(fmt.Errorf("scrub: roll back: %w", err))
		}
		if s.db.Stats().PendingPageN == 0 {
			break
		}
		st.Waits++
		scrubPending()
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return st, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
	btx, err := s.db.Begin(true)
	if err != nil {
		return st, graph.ErrUnavailable(fmt.Errorf("scrub: begin: %w", err))
	}
	defer func() { _ = btx.Rollback() }()
	err = s.zeroFree(ctx, btx, &st)
	if err != nil && ctx.Err() == nil {
		err = graph.ErrUnavailable(err)
	}
	return st, err
}

// zeroFree zeroes the free pages and the unused tail of the file. btx is a
// write transaction begun with no page pending, so that every page bbolt
// calls free is out of reach of every transaction.
func (s *Store) zeroFree(ctx context.Context, btx *bolt.Tx, st *ScrubStats) error {
	pageSize := int64(s.db.Info().PageSize)
	high := btx.Size() / pageSize // first page past the committed state
	f, err := os.OpenFile(s.db.Path(), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("scrub: open the file: %w", err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("scrub: stat the file: %w", err)
	}
	buf := make([]byte, scrubChunk)
	zero := make([]byte, scrubChunk)
	// zeroRange zeroes [off, end) of the file, a chunk at a time, writing
	// only the chunks that hold a non-zero byte. It says how many pages
	// held one and how many bytes it wrote.
	zeroRange := func(off, end int64) (dirty int, wrote int64, err error) {
		for ; off < end; off += scrubChunk {
			n := min(end-off, scrubChunk)
			got, err := f.ReadAt(buf[:n], off)
			if err != nil && !(errors.Is(err, io.EOF) && int64(got) == n) {
				return dirty, wrote, fmt.Errorf("scrub: read at %d: %w", off, err)
			}
			d := 0
			for p := int64(0); p < n; p += pageSize {
				if !allZero(buf[p:min(p+pageSize, n)]) {
					d++
				}
			}
			if d == 0 {
				continue
			}
			if _, err := f.WriteAt(zero[:n], off); err != nil {
				return dirty, wrote, fmt.Errorf("scrub: write at %d: %w", off, err)
			}
			dirty += d
			wrote += n
		}
		return dirty, wrote, nil
	}
	var wrote int64
	// Runs of free pages are zeroed together. Pages 0 and 1 are the meta
	// pages.
	run := int64(-1) // first page of the current run of free pages
	flush := func(to int64) error {
		if run < 0 {
			return nil
		}
		d, w, err := zeroRange(run*pageSize, to*pageSize)
		st.ZeroedPages += d
		wrote += w
		run = -1
		return err
	}
	for id := int64(2); id < high; id++ {
		if id%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		info, err := btx.Page(int(id))
		if err != nil {
			return fmt.Errorf("scrub: page %d: %w", id, err)
		}
		if info == nil {
			break
		}
		if info.Type != "free" {
			if err := flush(id); err != nil {
				return err
			}
			id += int64(info.OverflowCount)
			continue
		}
		st.FreePages++
		if run < 0 {
			run = id
		}
	}
	if err := flush(high); err != nil {
		return err
	}
	if size := fi.Size(); size > high*pageSize {
		_, w, err := zeroRange(high*pageSize, size)
		if err != nil {
			return err
		}
		st.TailBytes = w
		wrote += w
	}
	if wrote > 0 {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("scrub: sync the file: %w", err)
		}
	}
	return f.Close()
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ScrubFreed is Scrub without its figures: privacy.Eraser calls it after
// every erasure (privacy.Scrubber).
func (s *Store) ScrubFreed(ctx context.Context) error {
	_, err := s.Scrub(ctx)
	return err
}

// Path is the database file's path.
func (s *Store) Path() string { return s.db.Path() }

// SerialWrites implements graph.SerialWriter: bbolt runs one write
// transaction at a time, and Update holds the store's write lock besides.
func (s *Store) SerialWrites() bool { return true }

var _ graph.SerialWriter = (*Store)(nil)
