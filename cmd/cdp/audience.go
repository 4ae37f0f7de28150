package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/schollz/progressbar/v3"

	"github.com/idgraph/cdp/audience"
)

const audienceUsage = `Usage:
  cdp audience export --server URL --key KEY [--format csv|ndjson]
                      [--identifiers email,phone,user_id] [--hash sha256] --out FILE ID

Work with the audiences of a running server. Run "cdp audience export -h"
for the flags.

Exit status: 0 done, 1 the server refused or failed, or the transfer or the
file failed, 2 bad usage (the server's 400 included).
`

const audienceExportHelp = `
"cdp audience export [flags] --out FILE ID" downloads every member of
audience ID (seg_...) from a running server (GET /v1/audiences/ID/export)
into FILE, with the identifiers of the chosen types: a CSV with a header
profile_id,<type>... and one row per member (several values of one type
joined by |), or NDJSON with one object per member and a last summary
line. Members without consent for the audience's purpose are left out;
their number is printed at the end.

The key needs audiences:read; raw emails and phones also need pii:read,
which --hash sha256 does without (SHA-256 of the normalized values, as ad
platforms' customer-match uploads expect). FILE is written only once the
whole export has arrived (a partial download leaves nothing behind, and
an existing FILE as it was; a complete one replaces it), with mode 0600:
it holds personal data. --out - writes to standard output.

A progress bar counts the rows on a terminal.

Exit status: 0 done, 1 the server refused or failed, or the transfer or the
file failed, 2 bad usage (the server's 400 included).

Example:
  cdp audience export --server https://cdp.example.com --key "$CDP_API_KEY" \
    --hash sha256 --out customers.csv seg_0123456789abcdef0123456789abcdef`

// runAudience runs "cdp audience COMMAND".
func runAudience(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, audienceUsage)
		return usagef("give a command: export")
	}
	switch args[0] {
	case "export":
		return audienceExport(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, audienceUsage)
		return nil
	default:
		return usagef("unknown command %q (commands: export)", args[0])
	}
}

// exportResult is what an export brought.
type exportResult struct {
	members, excluded int
}

func audienceExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var server, key, format, identifiers, hash, out string
	fs := newFlagSet("audience export", stderr, audienceExportHelp)
	fs.str(&server, "server", "CDP_SERVER", "http://127.0.0.1:8080", "base URL of the running server")
	fs.str(&key, "key", "CDP_API_KEY", "", "API key with audiences:read (and pii:read for raw emails and phones)")
	fs.str(&format, "format", "", "", "csv or ndjson (default: ndjson for a FILE ending in .ndjson or .jsonl, else csv)")
	fs.str(&identifiers, "identifiers", "", "", "comma-separated identifier types (default: the server's, email,phone,user_id)")
	fs.str(&hash, "hash", "", "", "sha256: send SHA-256 hex of each value instead of the value")
	fs.str(&out, "out", "", "", "file to write, or - for standard output (required)")
	pos, err := parseKeysFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("give the audience ID (run \"cdp audience export -h\")")
	case len(pos) > 1:
		return usagef("unexpected argument %q: give one audience ID", pos[1])
	case out == "":
		return usagef("--out is required (a file, or - for standard output)")
	}
	if err := checkKeyFlag(key); err != nil {
		return err
	}
	id := pos[0]
	// The argument is not repeated: an email pasted for an id stays out of
	// the message.
	if !audience.ValidAudienceID(id) {
		return usagef("the argument is not an audience id (seg_ followed by 32 lowercase hex digits); the audiences query lists them")
	}
	if format == "" {
		format = "csv"
		if l := strings.ToLower(out); strings.HasSuffix(l, ".ndjson") || strings.HasSuffix(l, ".jsonl") {
			format = "ndjson"
		}
	}
	if format != "csv" && format != "ndjson" {
		return usagef("--format must be csv or ndjson, got %q", format)
	}
	if hash != "" && hash != "sha256" {
		return usagef("--hash must be sha256, got %q", hash)
	}
	base, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return usagef("--server %q is not an http or https URL", shownURL(server))
	}
	q := url.Values{"format": {format}}
	if identifiers != "" {
		q.Set("identifiers", identifiers)
	}
	if hash != "" {
		q.Set("hash", hash)
	}
	u := base.JoinPath("v1", "audiences", id, "export")
	u.RawQuery = q.Encode()

	resp, err := callServer(ctx, http.MethodGet, base, u, key)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != exportTypes[format] || resp.Header.Get("X-CDP-Members") == "" {
		return fmt.Errorf("the answer of the server at %s is not an audience export (Content-Type %s, want %s with an X-CDP-Members header): is --server a cdp server?", shownURL(base.String()), clipHeader(resp.Header.Get("Content-Type")), exportTypes[format])
	}

	total := int64(-1)
	if n, err := strconv.ParseInt(resp.Header.Get("X-CDP-Members"), 10, 64); err == nil && n >= 0 {
		total = n
	}
	excluded, _ := strconv.Atoi(resp.Header.Get("X-CDP-Excluded"))
	prog := newExportProgress(stderr, total)

	var res exportResult
	if out == "-" {
		res, err = receiveExport(resp.Body, stdout, format, prog)
		prog.finish()
		if err != nil {
			return err
		}
	} else {
		res, err = writeExportFile(out, resp.Body, format, prog)
		prog.finish()
		if err != nil {
			return err
		}
	}
	if format == "csv" {
		res.excluded = excluded
	}
	note := stdout
	if out == "-" {
		note = stderr
	}
	where := out
	if out == "-" {
		where = "standard output"
	}
	fmt.Fprintf(note, "exported %d members of audience %s to %s; %d left out for missing consent\n", res.members, id, where, res.excluded)
	return nil
}

// serverClient is the client of callServer: it follows no redirect.
var serverClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// exportTypes is the media type of an export, by format.
var exportTypes = map[string]string{"csv": "text/csv", "ndjson": "application/x-ndjson"}

// clipHeader is a header value as a message shows it: printable, short.
func clipHeader(v string) string {
	if v == "" {
		return "none"
	}
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
	if len(v) > 60 {
		v = strings.ToValidUTF8(v[:60], "") + "..."
	}
	return v
}

// unwrapURLError drops the method and URL net/http puts before a
// transport error.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// serverRefusal reads an error answer: {"error", "code"} from the export,
// or {"errors": [{"message", "extensions": {"code"}}]} from the key check.
// A 400 is a usage error.
func serverRefusal(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error  string `json:"error"`
		Code   string `json:"code"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	msg, code := "", ""
	if json.Unmarshal(b, &e) == nil {
		msg, code = e.Error, e.Code
		if msg == "" && len(e.Errors) > 0 {
			msg = e.Errors[0].Message
			code, _ = e.Errors[0].Extensions["code"].(string)
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(bytes.ToValidUTF8(b[:min(len(b), 200)], nil)))
	}
	line := fmt.Sprintf("the server answered %d", resp.StatusCode)
	if code != "" {
		line += " " + code
	}
	if msg != "" {
		line += ": " + msg
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		line += " (retry after " + ra + "s)"
	}
	if resp.StatusCode == http.StatusBadRequest {
		return usagef("%s", line)
	}
	return errors.New(line)
}

// writeExportFile receives the export into a temporary file beside path,
// private to the user, and renames it to path once complete.
func writeExportFile(path string, body io.Reader, format string, prog *exportProgress) (exportResult, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.part")
	if err != nil {
		return exportResult{}, fmt.Errorf("cannot write in %s: %v", dir, unwrapPathError(err))
	}
	tmp := f.Name()
	fail := func(err error) (exportResult, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return exportResult{}, err
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(fmt.Errorf("file %s: %v", path, unwrapPathError(err)))
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	res, err := receiveExport(body, bw, format, prog)
	if err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("file %s: %v", path, unwrapPathError(err)))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("file %s: %v", path, unwrapPathError(err)))
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return exportResult{}, fmt.Errorf("file %s: %v", path, unwrapPathError(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return exportResult{}, fmt.Errorf("file %s: %v", path, unwrapPathError(err))
	}
	return res, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// receiveExport copies the body to w line by line, counting members: CSV
// rows after the header, or NDJSON objects before the summary, whose
// counts it returns. A body cut short (the server ends the connection
// when it fails mid-stream), or an NDJSON one without its summary, is an
// error.
func receiveExport(body io.Reader, w io.Writer, format string, prog *exportProgress) (exportResult, error) {
	br := bufio.NewReaderSize(body, 256<<10)
	var res exportResult
	var last []byte
	lines := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: take it whole.
			rest, rerr := br.ReadBytes('\n')
			line, err = append(bytes.Clone(line), rest...), rerr
		}
		if len(line) > 0 {
			if _, werr := w.Write(line); werr != nil {
				return res, fmt.Errorf("writing the export: %v", unwrapPathError(werr))
			}
			if line[len(line)-1] == '\n' {
				lines++
				switch {
				case format == "csv" && lines > 1:
					res.members++
					prog.rows(res.members)
				case format == "ndjson" && bytes.HasPrefix(line, []byte(`{"profileId":`)):
					res.members++
					prog.rows(res.members)
				case format == "ndjson":
					last = append(last[:0], line...)
				}
			}
		}
		if err == io.EOF {
			if len(line) > 0 {
				return res, errors.New("the export ended in the middle of a line; nothing was kept")
			}
			break
		}
		if err != nil {
			return res, fmt.Errorf("the export was cut short after %d lines (%v); nothing was kept", lines, err)
		}
	}
	if format == "csv" {
		if lines == 0 {
			return res, errors.New("the export is empty: no CSV header")
		}
		return res, nil
	}
	var s struct {
		Kind     string `json:"kind"`
		Members  *int   `json:"members"`
		Excluded *int   `json:"excluded"`
	}
	if json.Unmarshal(last, &s) != nil || s.Kind != "summary" || s.Members == nil || s.Excluded == nil {
		return res, errors.New("the export has no summary line at its end; it may be incomplete")
	}
	if *s.Members != res.members {
		return res, fmt.Errorf("the export's summary counts %d members but %d arrived", *s.Members, res.members)
	}
	res.excluded = *s.Excluded
	return res, nil
}

// exportProgress shows a progress bar of the rows received on a terminal
// (a spinner when the server gave no count), and a line every few seconds
// otherwise.
type exportProgress struct {
	out   io.Writer
	bar   *progressbar.ProgressBar
	total int64
	start time.Time
	last  time.Time
}

func newExportProgress(stderr io.Writer, total int64) *exportProgress {
	p := &exportProgress{out: stderr, total: total, start: time.Now(), last: time.Now()}
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription("exporting"),
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

// rows records that n members have arrived.
func (p *exportProgress) rows(n int) {
	if p.bar != nil {
		// Membership may have grown since the server counted.
		if m := p.bar.GetMax64(); m >= 0 && int64(n) > m {
			p.bar.ChangeMax64(int64(n))
		}
		_ = p.bar.Set64(int64(n))
		return
	}
	if time.Since(p.last) >= 5*time.Second {
		p.last = time.Now()
		rate := float64(n) / max(time.Since(p.start).Seconds(), 0.001)
		if p.total >= 0 {
			fmt.Fprintf(p.out, "export: %d of %d rows (%.0f rows/s)\n", n, p.total, rate)
		} else {
			fmt.Fprintf(p.out, "export: %d rows (%.0f rows/s)\n", n, rate)
		}
	}
}

func (p *exportProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
	}
}

// checkKeyFlag refuses, as bad usage, a --key (or CDP_API_KEY) that no
// HTTP header can carry: one with a control character or a space, such as
// the line break a key file ends with. The key is not repeated.
func checkKeyFlag(key string) error {
	for _, r := range key {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return usagef("--key (or CDP_API_KEY) holds a space or a control character, such as the line break at the end of a key file: give the key alone")
		}
	}
	return nil
}

// callServer makes a request of a running server (base) to u with key as
// the bearer token (none when empty), and returns the answer when it is
// 200; otherwise the error says the server could not be reached, or why
// it refused (serverRefusal). A redirect is not followed: a cdp server
// sends none, so one comes from something in front of it (a proxy's
// sign-in page, say), and neither the key nor the answer belongs there.
func callServer(ctx context.Context, method string, base, u *url.URL, key string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("request: %v", err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := serverClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the server at %s: %v", shownURL(base.String()), unwrapURLError(err))
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		resp.Body.Close()
		// The location is not shown: it may carry a sign-in token.
		return nil, fmt.Errorf("the server at %s answered with a redirect (%s) to another location, which is not followed: give --server the address cdp serve listens on", shownURL(base.String()), resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, serverRefusal(resp)
	}
	return resp, nil
}
