package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/redact"
	"github.com/idgraph/cdp/privacy"
)

// Import formats.
const (
	FormatCSV    = "csv"
	FormatNDJSON = "ndjson"
)

// Mapping names a CSV column for an identifier type (--map TYPE=COLUMN) or
// a trait (--trait NAME=COLUMN).
type Mapping struct {
	Name   string
	Column string
}

// ImportConfig configures Import. Server, Source and Format are required.
type ImportConfig struct {
	Server   string // base URL of a running cdp server, e.g. http://127.0.0.1:8080
	WriteKey string
	// Source names where the rows come from. It is sent as the X-CDP-Source
	// header (the server's source when it has no write keys) and it seeds
	// the message ids, so one file imported as two sources is two imports.
	Source      string
	Format      string    // FormatCSV or FormatNDJSON
	Identifiers []Mapping // CSV: identifier type -> column
	Traits      []Mapping // CSV: trait name -> column
	// Consent maps consent purposes to CSV columns (--consent
	// PURPOSE=COLUMN). A cell holds true or granted, false or denied, or
	// withdrawn (privacy.ParseImportValue); an empty cell records nothing.
	// The row's message carries them as context.consent.categoryPreferences
	// (withdrawn as the string "withdrawn", cdp's extension), so the server
	// records them on every identifier of the row, at the row's timestamp.
	Consent []Mapping
	// TimestampColumn dates each CSV row; without it the server dates rows
	// at receipt.
	TimestampColumn string
	// ConsentDated dates the CSV rows that carry consent and no timestamp
	// (no TimestampColumn, or an empty cell); zero: when Import starts.
	// The date enters the row's message id: a row's content alone cannot
	// tell one decision from the same decision made again later (denied,
	// granted, then denied again in three files), and a later file's row
	// that read as an earlier file's would be a duplicate, its decision
	// lost. cdp import gives the file's modification time, so the same file
	// imported again stores nothing while a newer file's decisions count.
	ConsentDated time.Time
	BatchSize    int // messages per request; default 200
	Concurrency  int // requests in flight; default 4
	MaxAttempts  int // per request, on 429, 5xx and network errors; default 8
	// MaxRequestBytes and MaxMessageBytes must not exceed the server's
	// limits; they default to the server defaults.
	MaxRequestBytes int
	MaxMessageBytes int
	// MaxRetryWait caps one wait between attempts; default 30s.
	MaxRetryWait time.Duration
	Client       *http.Client // default: a client with a 60s timeout
	// Rejects receives the rejected rows: for CSV a CSV file whose columns
	// are line, reason and the input's own columns; for NDJSON one JSON
	// object per line with line, reason and raw. Nil discards them.
	Rejects io.Writer
	// Progress, when set, is called after every request with the totals
	// so far, from one goroutine at a time.
	Progress func(ImportStats)
}

// ImportStats counts an import's rows by outcome.
type ImportStats struct {
	Rows       int // data rows read (CSV) or non-empty lines (NDJSON)
	Stored     int // new events stored
	Duplicates int // rows already stored by an earlier import
	// Unsure counts the Duplicates answered to a request sent again after
	// an attempt whose outcome is unknown (no answer, or a 5xx, which a
	// server may give after storing part of a request): this import may
	// have stored them, or an earlier one did.
	Unsure   int
	Rejected int   // rows refused, locally or by the server
	Bytes    int64 // input bytes read
}

// Done is the number of rows whose outcome is known.
func (s ImportStats) Done() int { return s.Stored + s.Duplicates + s.Rejected }

// ImportError is a failure that stops an import: bad configuration, an
// unreadable input, or a server that refuses or stays unavailable.
type ImportError struct {
	Msg string
	// Line, when not 0, is the line of the input the import could not
	// read from (a row that never ends): the same input imported again
	// stops there again, until it is fixed.
	Line int
}

func (e *ImportError) Error() string { return e.Msg }

// requestError is the message of a request that got no answer: the
// client's error naming the endpoint with a password written into the
// server URL as xxxxx, as every other message shows it (Go's HTTP client
// shows *** in its place).
func requestError(err error, endpoint string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %q: %v", ue.Op, redact.URI(endpoint), ue.Err)
	}
	return err.Error()
}

func importErrorf(format string, args ...any) error {
	return &ImportError{Msg: fmt.Sprintf(format, args...)}
}

// Check reports what Import would refuse in cfg before it reads a row:
// a missing or malformed server, source, format or mapping.
func (cfg ImportConfig) Check() error {
	return cfg.defaults()
}

func (cfg *ImportConfig) defaults() error {
	if cfg.Server == "" {
		return importErrorf("no server: give --server URL")
	}
	if !strings.HasPrefix(cfg.Server, "http://") && !strings.HasPrefix(cfg.Server, "https://") {
		return importErrorf("server %q is not an http:// or https:// URL", redact.URI(cfg.Server))
	}
	if _, err := url.Parse(cfg.Server); err != nil {
		// err repeats the URL, password included.
		return importErrorf("server %q is not a valid URL", redact.URI(cfg.Server))
	}
	cfg.Server = strings.TrimRight(cfg.Server, "/")
	if cfg.Source == "" {
		return importErrorf("no source: give --source NAME (e.g. crm)")
	}
	if !sourceRe.MatchString(cfg.Source) {
		return importErrorf("source %q is not a source name: use letters, digits, _ . and - (at most 64)", cfg.Source)
	}
	if graph.ReservedSource(cfg.Source) {
		return importErrorf("source %q is %s", cfg.Source, reservedWhy)
	}
	switch cfg.Format {
	case FormatCSV:
		if len(cfg.Identifiers) == 0 {
			return importErrorf("a CSV import needs at least one --map TYPE=COLUMN naming an identifier column")
		}
		for _, m := range cfg.Identifiers {
			if !typeRe.MatchString(m.Name) {
				return importErrorf("--map %s=%s: %q is not an identifier type (lowercase letters, digits and _, starting with a letter)", m.Name, m.Column, m.Name)
			}
		}
		for _, m := range cfg.Traits {
			if strings.TrimSpace(m.Name) == "" {
				return importErrorf("--trait =%s: the trait name is empty", m.Column)
			}
			// traits.email and traits.phone are the row's first email and
			// phone identifiers: such a trait would take the mapped
			// column's place, and that identifier would be lost.
			for _, id := range cfg.Identifiers {
				if (m.Name == graph.TypeEmail || m.Name == graph.TypePhone) && id.Name == m.Name {
					return importErrorf("--trait %s=%s: traits.%s is the %s identifier, which --map %s=%s fills; give the column as another --map %s=COLUMN, or name the trait otherwise",
						m.Name, m.Column, m.Name, m.Name, id.Name, id.Column, m.Name)
				}
			}
		}
		for _, m := range cfg.Consent {
			if !typeRe.MatchString(m.Name) {
				return importErrorf("--consent %s=%s: %q is not a purpose name (lowercase letters, digits and _, starting with a letter)", m.Name, m.Column, m.Name)
			}
		}
	case FormatNDJSON:
		if len(cfg.Identifiers) > 0 || len(cfg.Traits) > 0 || len(cfg.Consent) > 0 || cfg.TimestampColumn != "" {
			return importErrorf("--map, --trait, --consent and --timestamp apply to CSV only; NDJSON lines are Segment messages")
		}
	default:
		return importErrorf("format %q is not csv or ndjson", cfg.Format)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 200
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 30 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 60 * time.Second}
	}
	return nil
}

// Import reads rows from in and posts them to the server's /v1/batch, so the
// server validates and resolves them exactly as it does live traffic. Each
// CSV row becomes one identify message; each NDJSON line is sent as the
// Segment message it is, without its sentAt (withoutSentAt). Message ids
// come from the source and the message content, so importing the same
// input again stores nothing new.
//
// Rows refused locally or by the server go to cfg.Rejects with their line
// number and the reason, and count as Rejected; they do not stop the
// import. An *ImportError stops it: bad configuration, unreadable input, a
// request the server refuses as a whole, or a server that stays
// unavailable after cfg.MaxAttempts tries.
func Import(ctx context.Context, in io.Reader, cfg ImportConfig) (ImportStats, error) {
	if err := cfg.defaults(); err != nil {
		return ImportStats{}, err
	}
	if cfg.ConsentDated.IsZero() {
		cfg.ConsentDated = time.Now()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	counter := &countingReader{r: in}
	im := &importer{cfg: cfg, rejects: &rejectWriter{w: cfg.Rejects, format: cfg.Format}, input: counter}
	batches := make(chan *outBatch, cfg.Concurrency)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := im.send(ctx, b); err != nil {
					im.fail(err)
					cancel()
				}
			}
		}()
	}
	var readErr error
	switch cfg.Format {
	case FormatCSV:
		readErr = im.readCSV(ctx, counter, batches)
	case FormatNDJSON:
		readErr = im.readNDJSON(ctx, counter, batches)
	}
	close(batches)
	wg.Wait()
	im.mu.Lock()
	defer im.mu.Unlock()
	im.stats.Bytes = counter.n.Load()
	flushErr := im.rejects.flush()
	switch {
	case im.err != nil:
		return im.stats, im.err
	case readErr != nil:
		return im.stats, readErr
	case flushErr != nil:
		return im.stats, importErrorf("write rejects: %v", flushErr)
	}
	return im.stats, nil
}

type importer struct {
	cfg     ImportConfig
	rejects *rejectWriter
	input   *countingReader
	progMu  sync.Mutex // Progress runs one call at a time

	mu    sync.Mutex
	stats ImportStats
	err   error // first fatal error
}

// outBatch is one request: the messages and, per message, its input line
// and the original row for the rejects file.
type outBatch struct {
	items [][]byte
	lines []int
	rows  [][]string // CSV fields, or the raw NDJSON line
	size  int
}

func (im *importer) fail(err error) {
	im.mu.Lock()
	if im.err == nil {
		im.err = err
	}
	im.mu.Unlock()
}

func (im *importer) reject(line int, reason string, row []string) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.stats.Rejected++
	if err := im.rejects.write(line, reason, row); err != nil && im.err == nil {
		im.err = importErrorf("write rejects: %v", err)
	}
}

func (im *importer) readRow() {
	im.mu.Lock()
	im.stats.Rows++
	im.mu.Unlock()
}

// batcher groups messages into requests under the count and size limits.
type batcher struct {
	im  *importer
	out chan<- *outBatch
	cur *outBatch
}

// budget leaves room for the request envelope around the messages.
func (b *batcher) budget() int { return b.im.cfg.MaxRequestBytes - 1024 }

func (b *batcher) add(ctx context.Context, msg []byte, line int, row []string) error {
	if b.cur != nil && (len(b.cur.items) >= b.im.cfg.BatchSize || b.cur.size+len(msg)+1 > b.budget()) {
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	if b.cur == nil {
		b.cur = &outBatch{}
	}
	b.cur.items = append(b.cur.items, msg)
	b.cur.lines = append(b.cur.lines, line)
	b.cur.rows = append(b.cur.rows, row)
	b.cur.size += len(msg) + 1
	return nil
}

func (b *batcher) flush(ctx context.Context) error {
	if b.cur == nil {
		return nil
	}
	select {
	case b.out <- b.cur:
		b.cur = nil
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (im *importer) stopped(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.err != nil {
		return im.err
	}
	return importErrorf("import interrupted: %v", ctx.Err())
}

func (im *importer) readCSV(ctx context.Context, in io.Reader, out chan<- *outBatch) error {
	// Spreadsheet exports start with a byte order mark: dropped before the
	// CSV reader sees it, so that a quoted first header ("\ufeff\"Email\"")
	// parses as quoted.
	br := textInput(in)
	// The CSV reader holds a whole row in memory, however long: a quoted
	// field that never closes would take the rest of a file of gigabytes
	// into one row. The reader beneath it stops a row past MaxCSVRowBytes.
	comma, sepLine := csvDelimiter(br, im.mappedColumns())
	im.rejects.comma = comma
	lim := &rowLimit{r: br}
	r := csv.NewReader(bufio.NewReaderSize(lim, csvBufferBytes))
	r.Comma = comma
	r.ReuseRecord = false
	r.FieldsPerRecord = -1 // set from the header
	lim.next(0)
	if sepLine {
		_, _ = r.Read() // "sep=;" names the delimiter; the header follows it
		lim.next(r.InputOffset())
	}
	header, err := r.Read()
	if err == nil && r.InputOffset() > MaxCSVRowBytes {
		err = errRowTooLong
	}
	if err == io.EOF {
		return importErrorf("the CSV input is empty: it needs a header row naming the columns")
	}
	if errors.Is(err, errRowTooLong) {
		return importErrorf("the CSV header runs past 1 MiB without ending (no line end the reader knows: LF, CRLF or CR): nothing was imported")
	}
	if err != nil {
		return importErrorf("CSV header: %v", err)
	}
	col := map[string]int{}
	cells := map[string][]int{} // every cell of each name, 1-based
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := col[h]; !dup {
			col[h] = i
		}
		cells[h] = append(cells[h], i+1)
	}
	find := func(flagName, spec, column string) (int, error) {
		i, ok := col[strings.TrimSpace(column)]
		if at := cells[strings.TrimSpace(column)]; len(at) > 1 {
			// Taking one of them would drop the other's values without a
			// word.
			return 0, importErrorf("%s %s: column %q appears %d times in the CSV header (cells %s); rename all but one so that the mapping names one column",
				flagName, spec, column, len(at), joinInts(at))
		}
		if !ok {
			// The cells are not listed: in a file without a header row
			// they would be a customer's data. One close to the name
			// asked for is a column name, as the name is.
			hint := ""
			if near := nearestColumn(header, strings.TrimSpace(column)); near != "" {
				hint = fmt.Sprintf("; did you mean %q?", near)
			}
			return 0, importErrorf("%s %s: column %q is not in the CSV header, whose first row has %d cells (not repeated here; does the file start with a header row?)%s",
				flagName, spec, column, len(header), hint)
		}
		return i, nil
	}
	type colMap struct {
		name string
		idx  int
	}
	var ids, traits []colMap
	for _, m := range im.cfg.Identifiers {
		i, err := find("--map", m.Name+"="+m.Column, m.Column)
		if err != nil {
			return err
		}
		ids = append(ids, colMap{m.Name, i})
	}
	for _, m := range im.cfg.Traits {
		i, err := find("--trait", m.Name+"="+m.Column, m.Column)
		if err != nil {
			return err
		}
		traits = append(traits, colMap{m.Name, i})
	}
	var consents []colMap
	for _, m := range im.cfg.Consent {
		i, err := find("--consent", m.Name+"="+m.Column, m.Column)
		if err != nil {
			return err
		}
		consents = append(consents, colMap{m.Name, i})
	}
	tsCol := -1
	if im.cfg.TimestampColumn != "" {
		if tsCol, err = find("--timestamp", "", im.cfg.TimestampColumn); err != nil {
			return err
		}
	}
	im.rejects.header = header
	r.FieldsPerRecord = len(header)
	var mapped []int // the columns a message takes cells from
	for _, m := range slices.Concat(ids, traits, consents) {
		mapped = append(mapped, m.idx)
	}
	if tsCol >= 0 {
		mapped = append(mapped, tsCol)
	}

	b := &batcher{im: im, out: out}
	for {
		if err := im.stopped(ctx); err != nil {
			return err
		}
		start := r.InputOffset()
		lim.next(start)
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err == nil && r.InputOffset()-start > MaxCSVRowBytes {
			err = errRowTooLong
		}
		if errors.Is(err, errRowTooLong) {
			// Nothing after it can be read as rows: stop, after sending
			// what was read before it.
			line := 0
			if len(rec) > 0 {
				line, _ = r.FieldPos(0)
			}
			if err := b.flush(ctx); err != nil {
				return im.stopped(ctx)
			}
			return &ImportError{Line: line, Msg: fmt.Sprintf("read CSV: the row that starts on line %d runs past 1 MiB without ending (a quoted field that never closes, a stray \" in a field?): it and the lines after it could not be read as rows, and none was imported", line)}
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return importErrorf("read CSV: %v", err)
			}
			if errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine {
				// A quoted field opened and never closed took every line
				// after it: nothing more can be read as rows. Stop, after
				// sending what was read before it.
				if err := b.flush(ctx); err != nil {
					return im.stopped(ctx)
				}
				return &ImportError{Line: pe.StartLine, Msg: fmt.Sprintf("read CSV: the quoted field that opens on line %d is never closed (a stray \" in a field?): lines %d to %d could not be read as rows, and none was imported", pe.StartLine, pe.StartLine, pe.Line)}
			}
			im.readRow()
			reason := pe.Err.Error()
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				reason = fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(header))
			}
			im.reject(pe.StartLine, "CSV: "+reason, rec)
			continue
		}
		line, _ := r.FieldPos(0)
		im.readRow()
		// Live traffic refuses invalid UTF-8 (invalid_utf8); json.Marshal
		// would replace it with U+FFFD, so two ids that differ only in
		// bytes of another encoding (a Latin-1 export) would become one.
		if col, off := badUTF8(rec); col >= 0 {
			im.reject(line, fmt.Sprintf("invalid_utf8: column %q is not valid UTF-8 (first bad byte at offset %d); CSV input must be UTF-8", clip(header[col], 64), off), rec)
			continue
		}
		if sameRow(rec, header) {
			// Exports joined into one file repeat their header: no
			// customer's row, and stored it would be a person whose user
			// id is the column's name.
			im.reject(line, "the row repeats the header row (files joined into one?)", rec)
			continue
		}
		msg := map[string]any{"type": TypeIdentify}
		tr := map[string]any{}
		var ext []any
		ctxm := map[string]any{}
		found := false
		for _, m := range ids {
			v := strings.TrimSpace(rec[m.idx])
			if v == "" {
				continue
			}
			found = true
			switch {
			case m.name == "user_id" && msg["userId"] == nil:
				msg["userId"] = v
			case m.name == "anonymous_id" && msg["anonymousId"] == nil:
				msg["anonymousId"] = v
			case (m.name == "email" || m.name == "phone") && tr[m.name] == nil:
				tr[m.name] = v
			case m.name == "device_id" && ctxm["device"] == nil:
				ctxm["device"] = map[string]any{"id": v}
			default:
				ext = append(ext, map[string]any{"id": v, "type": m.name, "collection": "users", "encoding": "none"})
			}
		}
		if !found {
			// The server would list the message fields it looks in; the
			// user mapped columns.
			cols := make([]string, len(ids))
			for i, m := range ids {
				cols[i] = strconv.Quote(strings.TrimSpace(header[m.idx]))
			}
			im.reject(line, "no identifier: the --map columns "+strings.Join(cols, ", ")+" are empty", rec)
			continue
		}
		for _, m := range traits {
			if v := strings.TrimSpace(rec[m.idx]); v != "" {
				tr[m.name] = v
			}
		}
		prefs := map[string]any{}
		from := map[string]int{} // the column each purpose's decision came from
		badConsent := ""
		for _, m := range consents {
			v := strings.TrimSpace(rec[m.idx])
			if v == "" {
				continue
			}
			st, err := privacy.ParseImportValue(v)
			if err != nil {
				// The message does not repeat the cell: a column mapped by
				// mistake may hold personal data.
				badConsent = fmt.Sprintf("--consent %s=%s: %s", m.name, header[m.idx], graph.ErrorMessage(err))
				break
			}
			var pref any = "withdrawn"
			switch st {
			case privacy.StatusGranted:
				pref = true
			case privacy.StatusDenied:
				pref = false
			}
			// One purpose given two columns takes whichever is filled;
			// two decisions that differ are no one decision, and the
			// message holds one per purpose.
			if was, ok := prefs[m.name]; ok && was != pref {
				badConsent = fmt.Sprintf("--consent %s=%s and --consent %s=%s disagree: one row gives one decision per purpose", m.name, header[from[m.name]], m.name, header[m.idx])
				break
			}
			prefs[m.name] = pref
			from[m.name] = m.idx
		}
		if badConsent != "" {
			im.reject(line, badConsent, rec)
			continue
		}
		if len(prefs) > 0 {
			ctxm["consent"] = map[string]any{"categoryPreferences": prefs}
		}
		if tsCol >= 0 {
			if v := strings.TrimSpace(rec[tsCol]); v != "" {
				// Refused here, the reason names the column; the server
				// would name the message's field, timestamp. A time more
				// than a day ahead of the server's clock is its to refuse.
				why := ""
				if t, err := ParseTime(v); err != nil {
					why = "the cell " + err.Error() + " (the forms taken: 2024-03-01, 2024-03-01 10:00, 2024-03-01T10:00:00Z, RFC 3339; no zone is UTC)"
				} else if t.Before(MinTimestamp) {
					why = "the cell is before 2000-01-01, outside the accepted range"
				}
				if why != "" {
					im.reject(line, fmt.Sprintf("--timestamp %q: %s", strings.TrimSpace(im.cfg.TimestampColumn), why), rec)
					continue
				}
				msg["timestamp"] = v
			}
		}
		if _, dated := msg["timestamp"]; !dated && len(prefs) > 0 {
			// A decision needs its time in its id (ImportConfig.ConsentDated).
			msg["timestamp"] = im.cfg.ConsentDated.UTC().Format(time.RFC3339Nano)
		}
		if len(tr) > 0 {
			msg["traits"] = tr
		}
		if len(ext) > 0 {
			ctxm["externalIds"] = ext
		}
		if len(ctxm) > 0 {
			msg["context"] = ctxm
		}
		msg["messageId"] = MessageID(im.cfg.Source, msg)
		// The row names the importer in its own context, after its id is
		// derived: its digest is then what it was when the requests carried
		// this as a batch context, so a file imported before still dedupes.
		ctxm["library"] = map[string]any{"name": "cdp-import"}
		msg["context"] = ctxm
		data, err := json.Marshal(msg)
		if err != nil {
			im.reject(line, fmt.Sprintf("cannot encode the row: %v", err), rec)
			continue
		}
		if len(data) > im.cfg.MaxMessageBytes {
			// Name what to shorten or leave out: the mapped column of the
			// longest cell.
			longest, size := -1, 0
			for _, i := range mapped {
				if n := len(strings.TrimSpace(rec[i])); n > size {
					longest, size = i, n
				}
			}
			why := fmt.Sprintf("message is %d bytes, over the %s per-message limit", len(data), sizeName(im.cfg.MaxMessageBytes))
			if longest >= 0 {
				why += fmt.Sprintf("; its longest mapped cell is in column %q (%d bytes)", strings.TrimSpace(header[longest]), size)
			}
			im.reject(line, why, rec)
			continue
		}
		if err := b.add(ctx, data, line, rec); err != nil {
			return im.stopped(ctx)
		}
	}
	if err := b.flush(ctx); err != nil {
		return im.stopped(ctx)
	}
	return nil
}

// textInput returns the input as UTF-8 text after its byte order mark,
// with LF line ends (or CRLF): a UTF-8 mark is dropped, a file that starts
// with a UTF-16 one (Excel's "Unicode Text", Windows tools) is decoded,
// and lines ended by CR alone end in LF.
func textInput(in io.Reader) *bufio.Reader {
	br := bufio.NewReaderSize(in, 64<<10)
	b, _ := br.Peek(3)
	switch {
	case string(b) == "\ufeff":
		_, _ = br.Discard(3)
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		_, _ = br.Discard(2)
		br = bufio.NewReaderSize(&utf16Reader{r: br, order: binary.LittleEndian}, 64<<10)
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		_, _ = br.Discard(2)
		br = bufio.NewReaderSize(&utf16Reader{r: br, order: binary.BigEndian}, 64<<10)
	}
	// A file whose first line ends in CR alone (Excel for Mac's "CSV
	// (Macintosh)") ends every line so: each such CR is read as a line
	// end. Other files are read as they are, a CR within a cell kept.
	if firstLineEndsInCR(br) {
		return bufio.NewReaderSize(crReader{br}, 64<<10)
	}
	return br
}

// csvDelimiter is the comma, unless the header read with commas is one
// cell and read with semicolons (a European export, whose decimal mark is
// the comma) or tabs (Excel's "Unicode Text") is several: then the one of
// those that gives the most cells. A one-cell header that is a column the
// mapping names (mapped; "E-Mail; privat", "email" and a trailing tab)
// keeps the comma: the file has that one column. A first line "sep=;"
// (the hint Excel reads; spaces after it are ignored) names the delimiter
// instead, and sepLine says the header follows it.
func csvDelimiter(br *bufio.Reader, mapped []string) (comma rune, sepLine bool) {
	line := peekLine(br)
	// Spaces after the hint are no part of it (a space is no delimiter
	// taken; a tab is, so only spaces are trimmed).
	if hint, ok := strings.CutPrefix(strings.TrimRight(strings.TrimRight(string(line), "\r\n"), " "), "sep="); ok {
		c, n := utf8.DecodeRuneInString(hint)
		if n > 0 && n == len(hint) && c != utf8.RuneError && c != '"' && (c == '\t' || c > ' ') {
			return c, true
		}
	}
	read := func(c rune) []string {
		r := csv.NewReader(bytes.NewReader(line))
		r.Comma = c
		rec, _ := r.Read()
		return rec
	}
	cells := func(c rune) int { return len(read(c)) }
	if rec := read(','); len(rec) != 1 || slices.Contains(mapped, strings.TrimSpace(rec[0])) {
		return ',', false
	}
	best, most := ',', 1
	for _, c := range []rune{';', '\t'} {
		if n := cells(c); n > most {
			best, most = c, n
		}
	}
	return best, false
}

// mappedColumns are the columns the mapping names, trimmed as the header's
// cells are matched.
func (im *importer) mappedColumns() []string {
	var out []string
	for _, ms := range [][]Mapping{im.cfg.Identifiers, im.cfg.Traits, im.cfg.Consent} {
		for _, m := range ms {
			out = append(out, strings.TrimSpace(m.Column))
		}
	}
	if im.cfg.TimestampColumn != "" {
		out = append(out, strings.TrimSpace(im.cfg.TimestampColumn))
	}
	return out
}

// peekLine returns the first line of br, its LF included, without reading
// it: no more than br's buffer, and no further than its end (a pipe may
// hold the first lines only for a while).
func peekLine(br *bufio.Reader) []byte {
	for n := 1; ; n = br.Buffered() + 1 {
		b, err := br.Peek(n)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[:i+1]
		}
		if err != nil || n >= br.Size() {
			return b
		}
	}
}

// firstLineEndsInCR peeks, no further than it must (a pipe may hold the
// first lines only for a while), at the first line end.
func firstLineEndsInCR(br *bufio.Reader) bool {
	for n := 1; ; n = br.Buffered() + 1 {
		b, err := br.Peek(n)
		if i := bytes.IndexAny(b, "\r\n"); i >= 0 && (b[i] == '\n' || i+1 < len(b)) {
			return b[i] == '\r' && b[i+1] != '\n'
		} else if i >= 0 && err != nil {
			return true // the input ends in that CR
		}
		if err != nil || n >= br.Size() {
			return false
		}
	}
}

// crReader reads a CR that no LF follows as an LF.
type crReader struct{ r *bufio.Reader }

func (c crReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := bytes.IndexByte(p[:n], '\r'); i >= 0; {
		var next []byte
		if i+1 < n {
			next = p[i+1 : i+2]
		} else {
			next, _ = c.r.Peek(1)
		}
		if len(next) == 0 || next[0] != '\n' {
			p[i] = '\n'
		}
		j := bytes.IndexByte(p[i+1:n], '\r')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return n, err
}

// utf16Reader decodes UTF-16 to UTF-8. A code unit that is half a
// surrogate pair, or an odd byte at the end, is no character: it becomes
// bytes that are not valid UTF-8 (a lone surrogate's three bytes, or
// 0xFF), so that its row is refused as invalid_utf8, as a UTF-8 file's
// bad bytes are, never stored with U+FFFD in its place.
type utf16Reader struct {
	r     io.Reader
	order binary.ByteOrder
	buf   []byte
	in    []byte // bytes read and not yet decoded
	out   []byte // decoded and not yet returned
	err   error
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.err != nil {
			if len(u.in) == 0 {
				return 0, u.err
			}
			u.decode(true)
			continue
		}
		if u.buf == nil {
			u.buf = make([]byte, 32<<10)
		}
		n, err := u.r.Read(u.buf)
		u.in = append(u.in, u.buf[:n]...)
		u.err = err
		u.decode(false)
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	if len(u.out) == 0 {
		u.out = u.out[:0:0]
	}
	return n, nil
}

// decode turns the whole code units of u.in into UTF-8, keeping a high
// surrogate at the end for the next read unless the input has ended.
func (u *utf16Reader) decode(end bool) {
	in := u.in
	for len(in) >= 2 {
		c := rune(u.order.Uint16(in))
		switch {
		case c >= 0xD800 && c < 0xDC00:
			if len(in) < 4 && !end {
				u.in = append(u.in[:0], in...)
				return
			}
			if len(in) >= 4 {
				if d := rune(u.order.Uint16(in[2:])); d >= 0xDC00 && d < 0xE000 {
					u.out = utf8.AppendRune(u.out, utf16.DecodeRune(c, d))
					in = in[4:]
					continue
				}
			}
			u.out = appendSurrogate(u.out, c)
		case c >= 0xDC00 && c < 0xE000:
			u.out = appendSurrogate(u.out, c)
		default:
			u.out = utf8.AppendRune(u.out, c)
		}
		in = in[2:]
	}
	if end && len(in) > 0 {
		u.out = append(u.out, 0xFF)
		in = nil
	}
	u.in = append(u.in[:0], in...)
}

// appendSurrogate writes a lone surrogate as its three bytes, which are
// not valid UTF-8.
func appendSurrogate(b []byte, c rune) []byte {
	return append(b, 0xE0|byte(c>>12), 0x80|byte(c>>6)&0x3F, 0x80|byte(c)&0x3F)
}

// MaxCSVRowBytes bounds one CSV row (the header too), its line ends
// included: a row over it stops the import. It is far over the
// per-message limit, so a row that could be imported is never refused by
// it, but for columns the mapping leaves out.
const MaxCSVRowBytes = 1 << 20 // 1 MiB, as the messages say

// csvBufferBytes is the read buffer beneath the CSV reader.
const csvBufferBytes = 64 << 10

var errRowTooLong = errors.New("CSV row too long")

// rowLimit stops the CSV reader from reading more than a row's bound, and
// its buffer, past the start of the row it reads.
type rowLimit struct {
	r     io.Reader
	n     int64 // bytes read
	until int64
}

// next sets the bound for the row that starts at offset start.
func (l *rowLimit) next(start int64) { l.until = start + MaxCSVRowBytes + csvBufferBytes }

func (l *rowLimit) Read(p []byte) (int, error) {
	if l.n >= l.until {
		return 0, errRowTooLong
	}
	if rest := l.until - l.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := l.r.Read(p)
	l.n += int64(k)
	return k, err
}

func (im *importer) readNDJSON(ctx context.Context, in io.Reader, out chan<- *outBatch) error {
	// A byte order mark (editors on Windows write one) is no part of the
	// first line's JSON.
	br := textInput(in)
	if what := jsonDocument(peekLine(br)); what != "" {
		return importErrorf("the input is %s, so it is not NDJSON, which holds one message (a JSON object) per line: write each message on a line of its own first (for an array: jq -c '.[]' FILE > FILE.ndjson; for messages over several lines: jq -c . FILE > FILE.ndjson)", what)
	}
	b := &batcher{im: im, out: out}
	for line := 1; ; line++ {
		if err := im.stopped(ctx); err != nil {
			return err
		}
		// The server measures a message without the spaces around it:
		// read a little past the limit, and measure what is left.
		raw, tooLong, err := readLine(br, im.cfg.MaxMessageBytes+lineSlack)
		if err != nil && err != io.EOF {
			return importErrorf("read NDJSON: %v", err)
		}
		// Files joined into one (cat a.ndjson b.ndjson) hold each later
		// file's byte order mark at the start of a line: no part of its
		// JSON.
		t := bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(raw), []byte("\ufeff")))
		if tooLong == 0 && len(t) > im.cfg.MaxMessageBytes {
			tooLong, raw = len(t), raw[:min(len(raw), 256)]
		}
		if tooLong > 0 {
			im.readRow()
			im.reject(line, fmt.Sprintf("message is %d bytes, over the %s per-message limit", tooLong, sizeName(im.cfg.MaxMessageBytes)), []string{string(raw)})
		} else if len(t) > 0 {
			im.readRow()
			if reason := checkLine(t); reason != "" {
				im.reject(line, reason, []string{string(raw)})
			} else if err := b.add(ctx, withoutSentAt(t), line, []string{string(raw)}); err != nil {
				return im.stopped(ctx)
			}
		}
		if err == io.EOF {
			break
		}
	}
	if err := b.flush(ctx); err != nil {
		return im.stopped(ctx)
	}
	return nil
}

// jsonDocument says what the first line of an NDJSON input shows the
// input to be when it is one JSON document rather than a message per
// line ("" when it is not): an array of messages, on one line or opened
// on it, or a message spread over several lines (the line is "{" alone).
// A line with an array of anything else is a bad line, rejected as such.
func jsonDocument(line []byte) string {
	t := bytes.TrimSpace(line)
	switch {
	case string(t) == "{":
		return "a JSON object spread over several lines"
	case len(t) > 0 && t[0] == '[':
		if rest := bytes.TrimSpace(t[1:]); len(rest) == 0 || rest[0] == '{' {
			return "a JSON array of objects"
		}
	}
	return ""
}

// withoutSentAt returns a copy of the JSON object t without its top-level
// sentAt members, every other byte as written. A line of a log keeps the
// sentAt of when the message was first sent; the server corrects a time by
// the sentAt against the moment it receives the message, which would date
// every imported line at the import. Without it the line is dated by its
// own timestamp, else originalTimestamp. The digest and derived id leave
// sentAt out, so a line the collector stored live is still a duplicate.
// checkLine has accepted t.
func withoutSentAt(t []byte) []byte {
	if !bytes.Contains(t, []byte("sent")) && !bytes.Contains(t, []byte(`\u`)) {
		return append([]byte(nil), t...)
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return append([]byte(nil), t...)
	}
	var members [][]byte
	dropped := false
	for dec.More() {
		start := dec.InputOffset()
		key, err := dec.Token()
		if err != nil {
			return append([]byte(nil), t...)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return append([]byte(nil), t...)
		}
		if key == "sentAt" {
			dropped = true
			continue
		}
		members = append(members, bytes.TrimLeft(t[start:dec.InputOffset()], ", \t\r\n"))
	}
	if !dropped {
		return append([]byte(nil), t...)
	}
	out := append([]byte{'{'}, bytes.Join(members, []byte{','})...)
	return append(out, '}')
}

// lineSlack is how many bytes of spaces around a message an NDJSON line
// may hold beyond the per-message limit; a line longer still is refused
// by its length, spaces included.
const lineSlack = 4 << 10

// readLine reads one line without its newline. A line longer than max is
// consumed and reported by its length, keeping only a prefix for the
// rejects file.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong int, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if tooLong > 0 {
			tooLong += len(chunk)
		} else {
			line = append(line, chunk...)
			if len(line) > max {
				tooLong = len(line)
				line = line[:min(len(line), 256)]
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		line = bytes.TrimRight(line, "\r\n")
		return line, tooLong, err
	}
}

// checkLine refuses what would spoil the whole request if sent: a line that
// is not one JSON object.
func checkLine(t []byte) string {
	if e := checkJSON(t, MaxDepth, "line"); e != nil {
		return e.Message
	}
	if !json.Valid(t) {
		_, e := decodeJSON(t, "line")
		if e != nil {
			return e.Message
		}
		return "malformed JSON in line"
	}
	if t[0] != '{' {
		var v any
		_ = json.Unmarshal(t, &v)
		return fmt.Sprintf("line must be a JSON object (a Segment message), not %s", jsonType(v))
	}
	return ""
}

// send posts one batch, retrying while the server is busy or unreachable.
func (im *importer) send(ctx context.Context, b *outBatch) error {
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	// No batch context: the server would merge it into every message, so
	// an NDJSON line would get another digest (and, without a messageId,
	// another id) than the same message sent live, and be stored twice or
	// refused as duplicate_conflict. Lines go as written, but for their sentAt (withoutSentAt).
	zw.Write([]byte(`{"batch":[`))
	for i, it := range b.items {
		if i > 0 {
			zw.Write([]byte{','})
		}
		zw.Write(it)
	}
	zw.Write([]byte(`]}`))
	if err := zw.Close(); err != nil {
		return importErrorf("compress request: %v", err)
	}
	url := im.cfg.Server + "/v1/batch"
	var last string
	unsure := false // an earlier attempt may have stored rows
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body.Bytes()))
		if err != nil {
			// err would repeat the URL, password included; Check
			// refused every URL that does not parse.
			return importErrorf("server URL %q: cannot make a request to it", redact.URI(im.cfg.Server))
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set(SourceHeader, im.cfg.Source)
		// --consent names purposes: one the server lacks rejects its rows
		// rather than being dropped from rows counted as stored. NDJSON
		// lines are messages as sent live, whose banner categories need
		// not be purposes.
		if im.cfg.Format == FormatCSV {
			req.Header.Set(ConsentPurposesHeader, "strict")
		}
		req.Header.Set("User-Agent", "cdp-import")
		if im.cfg.WriteKey != "" {
			req.SetBasicAuth(im.cfg.WriteKey, "")
		}
		wait := time.Duration(0)
		resp, err := im.cfg.Client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return im.stopped(ctx)
			}
			last = requestError(err, url)
			unsure = true
		} else {
			data, rerr := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
			resp.Body.Close()
			switch {
			case rerr != nil:
				last = fmt.Sprintf("reading the answer: %v", rerr)
				unsure = true
			case resp.StatusCode == http.StatusOK:
				var out Response
				if err := json.Unmarshal(data, &out); err != nil {
					return importErrorf("the server at %s answered 200 with a body that is not a collector response: %v", redact.URI(im.cfg.Server), err)
				}
				im.record(b, out, unsure)
				return nil
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
				last = fmt.Sprintf("%s: %s", resp.Status, serverError(data))
				wait = retryAfter(resp.Header.Get("Retry-After"))
				// 429 refuses the request before anything is stored.
				unsure = unsure || resp.StatusCode >= 500
			default:
				return importErrorf("the server refused the request (%s): %s", resp.Status, serverError(data))
			}
		}
		if attempt >= im.cfg.MaxAttempts {
			return importErrorf("gave up after %d attempts to send rows from line %d: %s", attempt, b.lines[0], last)
		}
		if wait <= 0 {
			wait = time.Duration(1<<min(attempt-1, 6)) * 250 * time.Millisecond
		}
		wait = min(wait, im.cfg.MaxRetryWait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return im.stopped(ctx)
		}
	}
}

func (im *importer) record(b *outBatch, out Response, unsure bool) {
	im.mu.Lock()
	im.stats.Stored += out.Stored
	im.stats.Duplicates += out.Duplicates
	if unsure {
		im.stats.Unsure += out.Duplicates
	}
	im.mu.Unlock()
	for _, e := range out.Errors {
		line, row := 0, []string(nil)
		if e.Index >= 0 && e.Index < len(b.lines) {
			line, row = b.lines[e.Index], b.rows[e.Index]
		}
		im.reject(line, e.Reason, row)
	}
	if im.cfg.Progress != nil {
		im.progMu.Lock()
		defer im.progMu.Unlock()
		im.mu.Lock()
		s := im.stats
		im.mu.Unlock()
		s.Bytes = im.input.n.Load()
		im.cfg.Progress(s)
	}
}

func serverError(data []byte) string {
	var f failure
	if json.Unmarshal(data, &f) == nil && f.Error != "" {
		return f.Error
	}
	return clip(strings.TrimSpace(string(data)), 200)
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// rejectWriter writes rejected rows in the input's own format.
type rejectWriter struct {
	w      io.Writer
	format string
	header []string
	comma  rune // the CSV input's delimiter; 0 is the comma
	csv    *csv.Writer
}

func (rw *rejectWriter) write(line int, reason string, row []string) error {
	if rw.w == nil {
		return nil
	}
	if rw.format == FormatNDJSON {
		raw := ""
		if len(row) > 0 {
			raw = row[0]
		}
		data, err := json.Marshal(struct {
			Line   int    `json:"line"`
			Reason string `json:"reason"`
			Raw    string `json:"raw"`
		}{line, reason, raw})
		if err != nil {
			return err
		}
		_, err = rw.w.Write(append(data, '\n'))
		return err
	}
	if rw.csv == nil {
		rw.csv = csv.NewWriter(rw.w)
		if rw.comma != 0 {
			rw.csv.Comma = rw.comma
		}
		if err := rw.csv.Write(append([]string{"line", "reason"}, rw.header...)); err != nil {
			return err
		}
	}
	return rw.csv.Write(append([]string{strconv.Itoa(line), reason}, row...))
}

func (rw *rejectWriter) flush() error {
	if rw.csv == nil {
		return nil
	}
	rw.csv.Flush()
	return rw.csv.Error()
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// sameRow reports whether rec holds the cells of header, spaces around
// them and a byte order mark before the first aside.
func sameRow(rec, header []string) bool {
	for i := range rec {
		a, b := strings.TrimSpace(rec[i]), strings.TrimSpace(header[i])
		if i == 0 {
			a = strings.TrimSpace(strings.TrimPrefix(a, "\ufeff"))
		}
		if a != b {
			return false
		}
	}
	return len(rec) == len(header)
}

// badUTF8 returns the first field of rec that is not valid UTF-8 and the
// offset of its first bad byte, or -1.
func badUTF8(rec []string) (int, int) {
	for i, f := range rec {
		if utf8.ValidString(f) {
			continue
		}
		for off := 0; off < len(f); {
			r, n := utf8.DecodeRuneInString(f[off:])
			if r == utf8.RuneError && n <= 1 {
				return i, off
			}
			off += n
		}
	}
	return -1, 0
}

// nearestColumn returns the header cell that names column as it would
// with case, spaces and punctuation ignored ("E-mail" for "email"); ""
// when none does. Only such a cell is shown: any other could be a
// customer's data, "Emily" as near to "email" as "E-mail" is.
func nearestColumn(header []string, column string) string {
	want := foldColumn(column)
	for _, h := range header {
		if want != "" && foldColumn(h) == want {
			return strings.TrimSpace(h)
		}
	}
	return ""
}

// foldColumn keeps the letters and digits of s, lowercased.
func foldColumn(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// joinInts lists ns as "1, 3 and 4".
func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
