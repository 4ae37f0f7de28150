package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/idgraph/cdp/ingest"
)

const importHelp = `Send a CSV or NDJSON file (or - for standard input) to a running server's
/v1/batch. Each CSV row becomes one identify message; each NDJSON line is a
Segment message. Message ids come from --source and the row content, so
importing the same file again adds nothing. Rejected rows go to the rejects
file with their line number and reason.

Exit status: 0 every row accepted, 1 some rows rejected, 2 usage or I/O
error (or the server stayed unavailable).

Example:
  cdp import --source crm --format csv --map user_id=customer_id \
    --map email=Email --map phone=Mobile --trait first_name=First crm.csv`

// maxImportConcurrency bounds --concurrency: past a few requests in
// flight the server's group commit, not the client, sets the pace.
const maxImportConcurrency = 64

// mappings is a repeatable NAME=COLUMN flag.
type mappings []ingest.Mapping

func (m *mappings) String() string {
	var parts []string
	for _, x := range *m {
		parts = append(parts, x.Name+"="+x.Column)
	}
	return strings.Join(parts, ",")
}

func (m *mappings) Set(v string) error {
	name, col, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(col) == "" {
		return fmt.Errorf("%q is not NAME=COLUMN", v)
	}
	*m = append(*m, ingest.Mapping{Name: strings.TrimSpace(name), Column: col})
	return nil
}

// runImport runs "cdp import" and returns the exit code.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("import", stderr, importHelp)
	var cfg ingest.ImportConfig
	var ids, traits, consents mappings
	var rejectsPath string
	fs.str(&cfg.Server, "server", "CDP_SERVER", "http://127.0.0.1:8080", "base URL of the running server")
	fs.str(&cfg.WriteKey, "write-key", "CDP_WRITE_KEY", "", "write key, sent as the Basic auth user")
	fs.str(&cfg.Source, "source", "", "", "source name of the rows, e.g. crm (required)")
	fs.str(&cfg.Format, "format", "", "", "csv or ndjson (default: from the file name)")
	fs.Var(&ids, "map", "TYPE=COLUMN: identifier type and the CSV column holding it (repeatable)")
	fs.Var(&traits, "trait", "NAME=COLUMN: trait name and the CSV column holding it (repeatable)")
	fs.Var(&consents, "consent", "PURPOSE=COLUMN: consent purpose and the CSV column holding the decision: true/granted, false/denied or withdrawn; empty cells record nothing (repeatable)")
	fs.str(&cfg.TimestampColumn, "timestamp", "", "", "CSV column dating each row (ISO-8601); default: the time of import, and for a row with --consent the file's modification time")
	fs.str(&rejectsPath, "rejects", "", "", "file for rejected rows (default FILE.rejects)")
	fs.integer(&cfg.BatchSize, "batch", "", 200, "messages per request")
	fs.integer(&cfg.Concurrency, "concurrency", "", 4, "requests in flight (1 to 64)")

	// Flags may come before or after FILE.
	var files []string
	rest := args
	for {
		if err := fs.parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(stderr, "cdp import: %v\n", err)
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "cdp import: give exactly one FILE (or - for standard input), got %d (run \"cdp import -h\")\n", len(files))
		return 2
	}
	// The importer would take a value below 1 as its default without a word.
	if cfg.BatchSize < 1 {
		fmt.Fprintf(stderr, "cdp import: --batch must be at least 1, got %d\n", cfg.BatchSize)
		return 2
	}
	if cfg.Concurrency < 1 {
		fmt.Fprintf(stderr, "cdp import: --concurrency must be at least 1, got %d\n", cfg.Concurrency)
		return 2
	}
	// Each request in flight has a slot made before a row is read: a huge
	// value would take the machine's memory before anything is sent.
	if cfg.Concurrency > maxImportConcurrency {
		fmt.Fprintf(stderr, "cdp import: --concurrency must be at most %d, got %d\n", maxImportConcurrency, cfg.Concurrency)
		return 2
	}
	path := files[0]
	cfg.Identifiers, cfg.Traits, cfg.Consent = ids, traits, consents
	if cfg.Format == "" {
		switch {
		case strings.HasSuffix(strings.ToLower(path), ".csv"):
			cfg.Format = ingest.FormatCSV
		case strings.HasSuffix(strings.ToLower(path), ".ndjson"), strings.HasSuffix(strings.ToLower(path), ".jsonl"):
			cfg.Format = ingest.FormatNDJSON
		default:
			fmt.Fprintln(stderr, "cdp import: give --format csv or --format ndjson")
			return 2
		}
	}

	// A configuration Import would refuse stops here, before the rejects
	// file of an earlier run is emptied.
	if err := cfg.Check(); err != nil {
		fmt.Fprintf(stderr, "cdp import: %v\n", err)
		return 2
	}

	in, size := io.Reader(os.Stdin), int64(-1)
	var inInfo os.FileInfo
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "cdp import: %v\n", err)
			return 2
		}
		defer f.Close()
		in = f
		if st, err := f.Stat(); err == nil {
			inInfo = st
			if st.Mode().IsRegular() {
				size = st.Size()
				// A time the server would refuse (before 2000, as an
				// archive's zero time; ahead of now) dates nothing.
				if mt := st.ModTime(); !mt.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) && !mt.After(time.Now()) {
					cfg.ConsentDated = mt
				}
			}
		}
	}
	if rejectsPath == "" {
		if path == "-" {
			rejectsPath = "stdin.rejects"
		} else {
			rejectsPath = path + ".rejects"
		}
	}
	// Opening the rejects file empties it: it must not be the input,
	// under any name (a link, another path).
	if st, err := os.Stat(rejectsPath); err == nil && inInfo != nil && os.SameFile(st, inInfo) {
		fmt.Fprintf(stderr, "cdp import: --rejects %s is the input file; give another file for rejected rows\n", rejectsPath)
		return 2
	}
	// Rejected rows hold personal data: keep the file private.
	// A file that exists keeps its mode through O_CREATE, so it is made
	// private too before anything is written to it. It is opened now, so
	// that a path that cannot be written stops the import before a row is
	// sent, but emptied only once a row is read (rejectsFile): an import
	// refused at the CSV header (a --map naming no column) leaves an
	// earlier run's file as it was, as a refused configuration does.
	_, statErr := os.Stat(rejectsPath)
	existed := statErr == nil
	rf, err := os.OpenFile(rejectsPath, os.O_CREATE|os.O_WRONLY, 0o600)
	if err == nil {
		if cerr := rf.Chmod(0o600); cerr != nil {
			rf.Close()
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "cdp import: rejects file: %v\n", err)
		return 2
	}
	rjf := &rejectsFile{f: rf}
	rw := bufio.NewWriter(rjf)
	cfg.Rejects = rw

	rows := int64(-1)
	if size >= 0 {
		rows = countRows(path, cfg.Format)
	}
	prog := newImportProgress(stderr, rows)
	cfg.Progress = prog.update
	start := time.Now()
	stats, ierr := ingest.Import(ctx, in, cfg)
	prog.finish(stats)
	ferr := rw.Flush()
	untouched := ierr != nil && stats.Rows == 0 && !rjf.emptied
	if !untouched && ferr == nil {
		// No stale rows from an earlier run, even when none was written.
		ferr = rjf.empty()
	}
	if cerr := rf.Close(); ferr == nil {
		ferr = cerr
	}
	switch {
	case untouched && !existed:
		_ = os.Remove(rejectsPath) // this run made it, and wrote nothing
	case untouched:
		// Refused before a row was read: an earlier run's file stays.
	case stats.Rejected == 0 && ferr == nil:
		_ = os.Remove(rejectsPath) // no stale file from an earlier run
	}

	secs := time.Since(start).Seconds()
	if ierr != nil && stats.Rows == 0 {
		fmt.Fprintf(stderr, "cdp import: %v\n", ierr)
		return 2
	}
	var ie *ingest.ImportError
	if errors.As(ierr, &ie) && ie.Line > 0 {
		// Stopped by a row that cannot be read: the same file would stop
		// there again.
		fmt.Fprintf(stdout, "stopped after %.1fs: the input cannot be read from line %d: read %d rows: %d stored, %d already present, %d rejected, %d not sent or unanswered; fix the file there and run the same import again (rows already stored are skipped as already present)\n",
			secs, ie.Line, stats.Rows, stats.Stored, stats.Duplicates, stats.Rejected, stats.Rows-stats.Done())
	} else if ierr != nil {
		// Stopped: the rows read after the last answer were not sent, or
		// got no answer, and no file lists them.
		fmt.Fprintf(stdout, "stopped after %.1fs: read %d rows: %d stored, %d already present, %d rejected, %d not sent or unanswered; run the same import again to send them (rows already stored are skipped as already present)\n",
			secs, stats.Rows, stats.Stored, stats.Duplicates, stats.Rejected, stats.Rows-stats.Done())
	} else {
		fmt.Fprintf(stdout, "imported %d rows in %.1fs (%.0f rows/s): %d stored, %d already present, %d rejected\n",
			stats.Rows, secs, float64(stats.Rows)/max(secs, 0.001), stats.Stored, stats.Duplicates, stats.Rejected)
	}
	if stats.Unsure > 0 {
		fmt.Fprintf(stdout, "%d of the rows already present were in requests sent again after an attempt got no answer or a 5xx: this import may have stored them\n", stats.Unsure)
	}
	if stats.Rejected > 0 {
		fmt.Fprintf(stdout, "rejected rows are in %s\n", rejectsPath)
	}
	switch {
	case ierr != nil:
		fmt.Fprintf(stderr, "cdp import: %v\n", ierr)
		return 2
	case ferr != nil:
		fmt.Fprintf(stderr, "cdp import: rejects file: %v\n", ferr)
		return 2
	case stats.Rejected > 0:
		return 1
	}
	return 0
}

// rejectsFile is the rejects file, emptied before its first write (or by
// empty), so that what an earlier run left in it is kept until this run
// has read a row.
type rejectsFile struct {
	f       *os.File
	emptied bool
}

func (r *rejectsFile) empty() error {
	if r.emptied {
		return nil
	}
	r.emptied = true
	return r.f.Truncate(0)
}

func (r *rejectsFile) Write(p []byte) (int, error) {
	if err := r.empty(); err != nil {
		return 0, err
	}
	return r.f.Write(p)
}

// countRows counts the data rows of a regular file for the progress bar's
// ETA. Quoted newlines in CSV make it an estimate; the bar adjusts.
func countRows(path, format string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 256<<10)
	last := byte('\n')
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if k > 0 {
			last = buf[k-1]
		}
		if err != nil {
			break
		}
	}
	if last != '\n' {
		n++
	}
	if format == ingest.FormatCSV && n > 0 {
		n-- // the header
	}
	return n
}

// importProgress shows a progress bar on a terminal and a log line every
// few seconds otherwise.
type importProgress struct {
	out   io.Writer
	bar   *progressbar.ProgressBar
	start time.Time
	last  time.Time
}

func newImportProgress(stderr io.Writer, rows int64) *importProgress {
	p := &importProgress{out: stderr, start: time.Now(), last: time.Now()}
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.bar = progressbar.NewOptions64(rows,
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription("importing"),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("rows"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionFullWidth(),
			)
		}
	}
	return p
}

func (p *importProgress) update(s ingest.ImportStats) {
	done := int64(s.Done())
	if p.bar != nil {
		if m := p.bar.GetMax64(); m >= 0 && done > m {
			p.bar.ChangeMax64(done)
		}
		_ = p.bar.Set64(done)
		return
	}
	if time.Since(p.last) >= 5*time.Second {
		p.last = time.Now()
		p.logLine(s)
	}
}

func (p *importProgress) finish(s ingest.ImportStats) {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
	}
}

func (p *importProgress) logLine(s ingest.ImportStats) {
	secs := time.Since(p.start).Seconds()
	fmt.Fprintf(p.out, "import: %d rows done (%.0f rows/s), %d stored, %d already present, %d rejected\n",
		s.Done(), float64(s.Done())/max(secs, 0.001), s.Stored, s.Duplicates, s.Rejected)
}
