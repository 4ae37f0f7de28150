package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/schollz/progressbar/v3"

	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/neo4jstore"
)

const copyHelp = `
"cdp copy" copies an entire identity graph from one store to another: the
embedded store of a data dir (--from-data-dir, --to-data-dir) or a Neo4j
database (--from-neo4j-uri, --to-neo4j-uri), in any direction. Give one
source and one target. Stop the servers on both first: the copy reads the
source page by page and expects nothing to write meanwhile.

It copies, as stored (ids, times and sequence numbers kept, nothing
recomputed): profiles (live and merged away, with their ids, times, sizes
and counts), identifiers (with first and last seen, sources, traits and
their profile), links (source, evidence, count, times), refused links,
events (every field, digest and message id included, and the identifiers
they were BY), history (merges with their members, splits), API keys and
the audit log, consent records, the suppression list and its secret,
the retired profile ids (hashes of deleted profiles' ids, which no new
profile takes), erasure receipts, computed trait definitions and values,
profile facts, audiences with their members and change log, the change
feed (its entries, head and retention mark), and webhook destinations
with their cursors, delivery numbers and deliveries.

A target that holds anything is refused unless --force: any record (a
suppression secret alone, which every server makes at start, does not
count, and is replaced), a change feed head or retention mark above 0 (a
feed that ran and was trimmed to nothing keeps them), or any other
leftover (on Neo4j, an audience deletion that stopped half-way); the
message names what it holds. With --force records already there are
overwritten or kept (events, history and log entries, keys, audit
entries, receipts), so a copy that stopped can be run again. Records go
in batches of --batch, one transaction each. At the end, and alone with
--verify-only, it compares the two stores: the number of records of each
kind (but a suppression secret that keys no hash on either side), the
feed's head and retention mark, each destination's delivery number, a
checksum of the partition
(the sorted member keys of every live profile, hashed, then the sorted
hashes hashed) and a content checksum of every kind (each record as JSON
with sorted keys and UTC times, hashed, then the sorted hashes hashed):
profiles (with the profile a merged id redirects to), identifiers (with
their traits), links, refused links, events (with their payloads),
history, API keys, the audit log, consent records, the suppression
secret (when it keys a hash on either side), the suppression list,
retired profile ids, erasure receipts, computed traits and values,
profile facts, audiences with their members and log, the change feed,
webhook destinations (not their leases, which are not copied) and
deliveries, and prints both sides.

The source is only read, at open too: an embedded source of an older
layout is refused, not upgraded (open it once with cdp serve first), a
Neo4j source's schema is checked, not applied (one not current is
refused: run cdp migrate on it), and an audience deletion left unfinished
there stays so (the deleted audience is not copied).

--verify-only writes nothing to either store, at open too: a Neo4j
database's schema is checked, not applied (one not current is refused:
run cdp migrate on it), and an audience deletion left unfinished stays.

The source and the target must be different stores: two Neo4j URIs of
one server (bolt or neo4j, with or without +s or +ssc; localhost or a
loopback address; a missing port is 7687) with database names that differ
only in case, or two paths of one folder (symbolic links resolved) or of
one store file (a hard link), are the same store. Two Neo4j URIs of one
database that these rules miss (0.0.0.0, another address or name of the
server) are found once both answer, each asked which database it is (CALL
db.info()), and refused before anything is written to the target.

Exit status: 0 copied and verified (or, with --verify-only, matching in
all that was compared), 1 a store failed, the target is not empty, or
the stores differ, 2 bad usage.

Example:
  cdp copy --from-data-dir ./data --to-neo4j-uri bolt://127.0.0.1:7687 --to-neo4j-database neo4j`

// copySide names one store of cdp copy.
type copySide struct {
	name string // "from" or "to"
	storeFlags
}

func (c *copySide) register(fs *flagSet) {
	env := "CDP_" + strings.ToUpper(c.name) + "_"
	fs.str(&c.dataDir, c.name+"-data-dir", "", "", "folder of the embedded store to copy "+c.name)
	fs.str(&c.neo4jURI, c.name+"-neo4j-uri", "", "", "Neo4j Bolt URI to copy "+c.name)
	fs.str(&c.neo4jUser, c.name+"-neo4j-user", env+"NEO4J_USER", "", "Neo4j user (empty: no authentication)")
	fs.str(&c.neo4jPass, c.name+"-neo4j-password", env+"NEO4J_PASSWORD", "", "Neo4j password")
	fs.str(&c.neo4jDB, c.name+"-neo4j-database", env+"NEO4J_DATABASE", "neo4j", "Neo4j database name")
	fs.str(&c.neo4jCA, c.name+"-neo4j-ca-file", env+"NEO4J_CA_FILE", "", caFileUsage)
}

func (c *copySide) check() error {
	switch {
	case c.dataDir == "" && c.neo4jURI == "":
		return usagef("give --%s-data-dir DIR or --%s-neo4j-uri URI", c.name, c.name)
	case c.dataDir != "" && c.neo4jURI != "":
		return usagef("give --%s-data-dir or --%s-neo4j-uri, not both", c.name, c.name)
	case c.neo4jURI == "":
		return nil
	}
	// Checked before either store is opened: a wrong URI costs no
	// connection, and says so at once.
	return checkNeo4jURI("--"+c.name+"-neo4j-uri", c.neo4jURI, "--"+c.name+"-neo4j-ca-file", c.neo4jCA)
}

// String names the store without its credentials: a password written
// into the URI is shown as xxxxx.
func (c *copySide) String() string {
	if c.neo4jURI != "" {
		return fmt.Sprintf("Neo4j %s database %s", neo4jstore.RedactURI(c.neo4jURI), c.neo4jDB)
	}
	return "embedded store in " + c.dataDir
}

// same reports whether c and o name the same store: for Neo4j, the same
// server (sameNeo4jServer) and the same database, whose names Neo4j
// compares without case (an empty name is the default, neo4j); for the
// embedded store, the same folder once made absolute and its symbolic
// links resolved, or one folder under two names (os.SameFile), or one
// store file under two folders (a hard link). Two names of one Neo4j
// database that these rules do not tell apart are found once the stores
// answer (sameDatabase).
func (c *copySide) same(o *copySide) bool {
	if c.neo4jURI != "" || o.neo4jURI != "" {
		return c.neo4jURI != "" && o.neo4jURI != "" && sameNeo4jServer(c.neo4jURI, o.neo4jURI) &&
			strings.EqualFold(cmp.Or(c.neo4jDB, "neo4j"), cmp.Or(o.neo4jDB, "neo4j"))
	}
	if c.dataDir == "" || o.dataDir == "" {
		return false
	}
	for _, name := range []string{"", embedded.FileName} {
		if a, errA := os.Stat(filepath.Join(c.dataDir, name)); errA == nil {
			if b, errB := os.Stat(filepath.Join(o.dataDir, name)); errB == nil && os.SameFile(a, b) {
				return true
			}
		}
	}
	a, errA := resolvePath(c.dataDir)
	b, errB := resolvePath(o.dataDir)
	return errA == nil && errB == nil && a == b
}

// resolvePath returns p made absolute with its symbolic links resolved;
// the part of p that does not exist yet (a target folder the copy will
// make) is kept as it is, after its longest existing parent resolved.
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	parent := filepath.Dir(abs)
	if parent == abs {
		return abs, nil
	}
	r, err := resolvePath(parent)
	if err != nil {
		return "", err
	}
	return filepath.Join(r, filepath.Base(abs)), nil
}

// sameNeo4jServer reports whether two Bolt URIs reach the same server:
// bolt and neo4j, with or without +s or +ssc, speak Bolt to the same port;
// a missing port is 7687; host names are compared without case, and
// localhost and every loopback address are one host. Two names of one
// machine other than those, or two members of one cluster, are not told
// apart.
func sameNeo4jServer(a, b string) bool {
	ka, okA := neo4jServerKey(a)
	kb, okB := neo4jServerKey(b)
	if !okA || !okB {
		return a == b
	}
	return ka == kb
}

// neo4jServerKey returns "host:port" of a Bolt URI, host "loopback" for
// localhost and loopback addresses; false when u is no bolt or neo4j URI.
func neo4jServerKey(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil {
		return "", false
	}
	if !neo4jstore.KnownScheme(p.Scheme) { // lowercased by Parse
		return "", false
	}
	host := strings.ToLower(strings.TrimSuffix(p.Hostname(), "."))
	if host == "" {
		host = "localhost" // the driver's default
	}
	if ip := net.ParseIP(host); host == "localhost" || strings.HasSuffix(host, ".localhost") || (ip != nil && ip.IsLoopback()) {
		host = "loopback"
	} else if ip != nil {
		host = ip.String() // one spelling of each address
	}
	return net.JoinHostPort(host, cmp.Or(p.Port(), "7687")), true
}

// sameDatabase arranges for the target, when both sides are Neo4j, to be
// refused before anything is written to it if it is the database the
// source is: one database reached under two names no spelling rule tells
// apart (0.0.0.0 or another address of the server, a host name of it, a
// member of its cluster). Neo4j says which database each is
// (neo4jstore.Store.Identity).
func sameDatabase(ctx context.Context, src *dump.Stream, from, to *copySide) error {
	if from.neo4jURI == "" || to.neo4jURI == "" {
		return nil
	}
	ns, ok := src.Store().(*neo4jstore.Store)
	if !ok {
		return nil
	}
	id, err := ns.Identity(ctx)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	to.checkIdentity = func(other string) error {
		if other == id {
			return usagef("the source and the target are the same store (%s and %s are one database)", from, to)
		}
		return nil
	}
	return nil
}

func (c *copySide) openStore(ctx context.Context, stderr io.Writer, mustExist bool) (*dump.Stream, error) {
	if mustExist && c.dataDir != "" {
		// Opening an embedded store creates it: a source, or the target
		// of --verify-only, that is not there must not become an empty one.
		if _, err := os.Stat(filepath.Join(c.dataDir, embedded.FileName)); err != nil {
			return nil, fmt.Errorf("no embedded store in %s: %w", c.dataDir, err)
		}
	}
	st, err := c.open(ctx, zerolog.New(stderr).With().Timestamp().Logger())
	if err != nil {
		switch {
		case errors.Is(err, embedded.ErrInUse):
			return nil, fmt.Errorf("the %s is held by a running server; stop it first", c)
		case errors.Is(err, embedded.ErrOlderLayout) && c.name == "to" && !mustExist:
			return nil, fmt.Errorf("%w; it is not empty, and is left unchanged: give --force to upgrade it and copy into it", err)
		case errors.Is(err, embedded.ErrOlderLayout) && c.name == "from":
			return nil, fmt.Errorf("%w; a copy reads its source and leaves it unchanged: open it once with cdp serve to upgrade it (a backup of the file is kept), then copy", err)
		case errors.Is(err, embedded.ErrOlderLayout):
			return nil, fmt.Errorf("%w; --verify-only leaves both stores unchanged: open it once with cdp serve to upgrade it (a backup of the file is kept), then verify", err)
		}
		return nil, err
	}
	cs, err := dump.NewStream(st)
	if err != nil {
		_ = st.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return cs, nil
}

func runCopy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	from, to := &copySide{name: "from"}, &copySide{name: "to"}
	var batch int
	var force, verifyOnly bool
	var timeout time.Duration
	fs := newFlagSet("copy", stderr, copyHelp)
	from.register(fs)
	to.register(fs)
	fs.integer(&batch, "batch", "", 1000, "records per page read and per transaction written")
	fs.boolean(&force, "force", "", false, "copy into a target that is not empty (holds records, feed marks or leftovers)")
	fs.boolean(&verifyOnly, "verify-only", "", false, "copy nothing: only compare the two stores (counts, feed marks, partition and content checksums)")
	fs.duration(&timeout, "store-timeout", "CDP_STORE_TIMEOUT", 15*time.Second, "how long to wait for each store at start")
	pos, err := parseKeysFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q (run \"cdp copy -h\")", pos[0])
	}
	if err := from.check(); err != nil {
		return err
	}
	if err := to.check(); err != nil {
		return err
	}
	if batch < 1 || batch > 100000 {
		return usagef("--batch %d is out of range: give 1 to 100000", batch)
	}
	if from.same(to) {
		return usagef("the source and the target are the same store (%s)", from)
	}
	// Checked before either store is opened, so that nothing is waited
	// for in vain.
	if (from.neo4jURI != "" || to.neo4jURI != "") && timeout <= 0 {
		return usagef("--store-timeout must be positive, got %s", timeout)
	}
	from.timeout, to.timeout = timeout, timeout
	// The source is read, never written, at open too: an embedded one of
	// an older layout is refused rather than upgraded, a Neo4j one's
	// schema is checked rather than applied (one not current is refused:
	// run cdp migrate on it), and an audience deletion left unfinished
	// there stays so (the deleted audience is not read: its tombstone and
	// what is left of it are not copied). The target is upgraded in place
	// only when written (given --force): a target refused for holding
	// records, and the target of --verify-only, stay as they are.
	from.noUpgrade, to.noUpgrade = true, verifyOnly || !force
	from.readOnly, to.readOnly = true, verifyOnly

	src, err := from.openStore(ctx, stderr, true)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Store().Close(context.WithoutCancel(ctx))
	if err := sameDatabase(ctx, src, from, to); err != nil {
		return err
	}
	dst, err := to.openStore(ctx, stderr, verifyOnly)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Store().Close(context.WithoutCancel(ctx))
	if len(dst.Kinds()) < len(src.Kinds()) {
		return fmt.Errorf("the target (%s) cannot hold every kind of record of the source", to)
	}

	srcCounts, err := src.CountAll(ctx)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if !verifyOnly {
		dstCounts, err := dst.CountAll(ctx)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		held, err := dst.Holdings(ctx, dstCounts)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		if len(held) > 0 && !force {
			return fmt.Errorf("the target (%s) is not empty: it holds %s; give --force to copy into it anyway", to, strings.Join(held, ", "))
		}
		fmt.Fprintf(stdout, "copying %s to %s\n", from, to)
		start := time.Now()
		for _, k := range src.Kinds() {
			if err := copyKind(ctx, src, dst, k, srcCounts[k], batch, stderr); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "copied in %s\n", time.Since(start).Round(time.Millisecond))
	}
	return verifyCopy(ctx, src, dst, srcCounts, batch, stdout)
}

// copyKind copies every record of kind k, page by page.
func copyKind(ctx context.Context, src, dst *dump.Stream, k dump.Kind, total, batch int, stderr io.Writer) error {
	bar := newCountProgress(stderr, total, string(k))
	start := time.Now()
	after := ""
	n := 0
	for {
		b, err := src.Page(ctx, k, after, batch)
		if err != nil {
			return fmt.Errorf("read %s from the source: %w", k, err)
		}
		if err := dst.Load(ctx, b); err != nil {
			return fmt.Errorf("write %s to the target: %w", k, err)
		}
		n += b.Len()
		bar.add(b.Len())
		if b.Next == "" {
			break
		}
		after = b.Next
	}
	bar.done(n, time.Since(start))
	return nil
}

// verifyCopy compares the counts, the feed marks, the partition checksums
// and the content checksums (dump.ContentKinds: every kind, the
// suppression secret only when it keys a hash on either side) of both
// stores, prints them side by side, and fails when they differ. It reads
// every record of both stores.
func verifyCopy(ctx context.Context, src, dst *dump.Stream, srcCounts dump.Counts, pageSize int, stdout io.Writer) error {
	dstCounts, err := dst.CountAll(ctx)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	srcSum, err := dump.Partition(ctx, src.Store(), pageSize)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	dstSum, err := dump.Partition(ctx, dst.Store(), pageSize)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tsource\ttarget\t")
	var diff []string
	for _, k := range src.Kinds() {
		mark := ""
		if srcCounts.Differ(dstCounts, k) {
			mark = "differs"
			diff = append(diff, string(k))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", k, srcCounts[k], dstCounts[k], mark)
	}
	mark := ""
	if srcSum.Live != dstSum.Live {
		mark = "differs"
		diff = append(diff, "live profiles")
	}
	fmt.Fprintf(tw, "live profiles\t%d\t%d\t%s\n", srcSum.Live, dstSum.Live, mark)
	// The feed's head and retention mark: where a subscriber's or a
	// destination's cursor goes on from, and which cursors are too old.
	srcHead, srcTrimmed, err := src.FeedMarks(ctx)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	dstHead, dstTrimmed, err := dst.FeedMarks(ctx)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	for _, m := range []struct {
		name     string
		src, dst uint64
	}{{"feed head", srcHead, dstHead}, {"feed trimmed", srcTrimmed, dstTrimmed}} {
		mark = ""
		if m.src != m.dst {
			mark = "differs"
			diff = append(diff, m.name)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", m.name, m.src, m.dst, mark)
	}
	// The delivery numbers: each destination's next batch is numbered
	// after its newest, delivered and pruned or not. The table shows
	// their sum; they are compared destination by destination.
	srcNums, err := src.DeliveryNumbers(ctx)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	dstNums, err := dst.DeliveryNumbers(ctx)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if srcNums != nil {
		mark = ""
		if !maps.Equal(srcNums, dstNums) {
			mark = "differs"
			diff = append(diff, "delivery numbers")
		}
		fmt.Fprintf(tw, "delivery numbers\t%d\t%d\t%s\n", sumNumbers(srcNums), sumNumbers(dstNums), mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	mark = ""
	if srcSum.Hash != dstSum.Hash {
		mark = "  differs"
		diff = append(diff, "partition")
	}
	fmt.Fprintf(stdout, "partition sha256, source  %s\npartition sha256, target  %s%s\n", srcSum.Hash, dstSum.Hash, mark)
	srcContent, err := src.ContentSums(ctx, pageSize)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	dstContent, err := dst.ContentSums(ctx, pageSize)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	var compared, skipped []string
	for _, k := range dump.ContentKinds {
		a, okA := srcContent[k]
		b, okB := dstContent[k]
		if !okA || !okB {
			continue
		}
		if !srcCounts.Compared(dstCounts, k) {
			skipped = append(skipped, string(k))
			continue
		}
		compared = append(compared, string(k))
		mark = ""
		if a != b {
			mark = "  differs"
			diff = append(diff, string(k)+" content")
		}
		fmt.Fprintf(stdout, "content sha256 of %s, source  %s\ncontent sha256 of %s, target  %s%s\n", k, a, k, b, mark)
	}
	if len(diff) > 0 {
		return fmt.Errorf("the stores differ: %s", strings.Join(diff, ", "))
	}
	// Say what was compared, and no more.
	not := ""
	if len(skipped) > 0 {
		not = " (not " + strings.Join(skipped, ", ") + ", which keys no hash on either side)"
	}
	fmt.Fprintf(stdout, "match: counts, live profiles, feed head and trimmed, delivery numbers, the partition checksum and the content checksums of %s%s\n",
		strings.Join(compared, ", "), not)
	return nil
}

// sumNumbers returns the sum of the delivery numbers of ns.
func sumNumbers(ns map[string]uint64) uint64 {
	var n uint64
	for _, x := range ns {
		n += x
	}
	return n
}

// countProgress shows a progress bar on a terminal, and a line per kind
// otherwise.
type countProgress struct {
	out  io.Writer
	what string
	bar  *progressbar.ProgressBar
}

func newCountProgress(stderr io.Writer, total int, what string) *countProgress {
	p := &countProgress{out: stderr, what: what}
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription(fmt.Sprintf("%-11s", what)),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionFullWidth(),
			)
		}
	}
	return p
}

func (p *countProgress) add(n int) {
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

func (p *countProgress) done(n int, took time.Duration) {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
		return
	}
	fmt.Fprintf(p.out, "copied %d %s in %s\n", n, p.what, took.Round(time.Millisecond))
}
