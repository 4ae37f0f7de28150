package ingest

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/internal/redact"
	"github.com/idgraph/cdp/privacy"
)

// SourceHeader names the source of a request sent without a key that has
// a source (cdp import sends it): with no write keys configured, or with an
// API key whose record names no source. Otherwise the key decides the
// source, and a header that disagrees is refused.
const SourceHeader = "X-CDP-Source"

// ConsentPurposesHeader, set to "strict" (cdp import sends it), makes the
// categories of a message's context.consent.categoryPreferences purposes
// the sender asked for by name: one the rules resolve to no purpose
// rejects the message (invalid_consent) instead of being skipped, as a
// live banner's category that is no purpose is.
const ConsentPurposesHeader = "X-CDP-Consent-Purposes"

var sourceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// endpoints maps each path to the message type it implies; "" marks the
// batch endpoints. The one-letter paths are what analytics.js (2.0) posts
// to; /v1/import is Segment's older name for /v1/batch.
var endpoints = map[string]string{
	"/v1/identify": TypeIdentify, "/v1/i": TypeIdentify,
	"/v1/track": TypeTrack, "/v1/t": TypeTrack,
	"/v1/page": TypePage, "/v1/p": TypePage,
	"/v1/screen": TypeScreen, "/v1/s": TypeScreen,
	"/v1/group": TypeGroup, "/v1/g": TypeGroup,
	"/v1/alias": TypeAlias, "/v1/a": TypeAlias,
	"/v1/batch": "", "/v1/b": "", "/v1/import": "",
}

// Response is the body of every answer of the collector. Success is true
// for 200; then the counts say what happened to each message. Errors lists
// the messages of a batch that were refused, by index in the batch. On any
// other status Success is false and Error says what is wrong.
type Response struct {
	Success    bool        `json:"success"`
	Stored     int         `json:"stored"`
	Duplicates int         `json:"duplicates"`
	Rejected   int         `json:"rejected"`
	Errors     []ItemError `json:"errors,omitempty"`
	Error      string      `json:"error,omitempty"`
}

// ItemError is one refused message of a batch.
type ItemError struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

type failure struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
}

// Handler serves the Segment Tracking API: POST /v1/track, /v1/identify,
// /v1/page, /v1/screen, /v1/group, /v1/alias and /v1/batch (full paths;
// mount it at "/v1/").
func (c *Collector) Handler() http.Handler { return http.HandlerFunc(c.serve) }

func (c *Collector) serve(w http.ResponseWriter, r *http.Request) {
	recv := graph.Now()
	if r.Header.Get("Origin") != "" {
		// analytics.js posts from the browser; without this it cannot
		// read the answer and would resend forever.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		// analytics.js reads X-RateLimit-Reset on a 429 to know how long
		// to wait; a browser shows it only a header exposed here.
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After, X-RateLimit-Reset")
	}
	implied, known := endpoints[r.URL.Path]
	if !known {
		// The path is not repeated: it can hold anything the caller typed
		// (a profile's id in a mistyped export path, an email).
		c.refuse(w, r, http.StatusNotFound, "no endpoint at this path (the path is not repeated): use POST /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group, /v1/alias or /v1/batch")
		return
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Encoding, "+SourceHeader)
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		c.refuse(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed: %s takes POST", redact.MethodText(r.Method), r.URL.Path))
		return
	}
	isBatch := implied == ""
	strictConsent := false
	switch v := strings.TrimSpace(r.Header.Get(ConsentPurposesHeader)); v {
	case "":
	case "strict":
		strictConsent = true
	default:
		c.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("%s must be strict, or absent (the value is not repeated)", ConsentPurposesHeader))
		return
	}

	// A key in the Authorization header is checked before the body is read,
	// and only once: an API key's check counts against its rate limit.
	key, fromHeader := "", false
	var source string
	// An empty user name ("Basic Og==") carries no key: the body's
	// writeKey is read instead, as when no header is sent.
	if user := basicUser(r); user != "" {
		key, fromHeader = user, true
		src, st, msg, wait := c.source(r.Context(), key, r)
		if st != 0 {
			c.setRetryAfter(w, st, wait)
			c.refuse(w, r, st, msg)
			return
		}
		source = src
	}

	body, st, msg := c.readBody(r)
	if st != 0 {
		if !isBatch && st == http.StatusRequestEntityTooLarge {
			c.countRefused(ReasonTooLarge)
		}
		// A 413 or 415 leaves the body partly unread.
		c.refuse(w, r, st, msg)
		return
	}
	depth := MaxDepth
	if isBatch {
		depth += 2 // the batch object and its array
	}
	if e := checkJSON(body, depth, "request body"); e != nil {
		if !isBatch {
			c.countRefused(e.Reason)
		}
		c.fail(w, http.StatusBadRequest, e.Message)
		return
	}

	env := Envelope{ReceivedAt: recv, Type: implied, MaxBytes: c.cfg.MaxMessageBytes}
	var items []json.RawMessage
	if isBatch {
		var bkey string
		items, bkey, st, msg = c.parseBatch(body, &env)
		if st != 0 {
			c.fail(w, st, msg)
			return
		}
		if !fromHeader {
			key = bkey
		}
	} else {
		// Measured as Parse measures it: without the spaces and line
		// ending around it (curl --data-binary @file sends the newline).
		if n := len(bytes.Trim(body, " \t\r\n")); n > c.cfg.MaxMessageBytes {
			c.countRefused(ReasonTooLarge)
			c.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("message is %d bytes, over the %s per-message limit", n, sizeName(c.cfg.MaxMessageBytes)))
			return
		}
		if !json.Valid(body) {
			// Report the syntax error, not a missing key we could not read.
			msg := "malformed JSON in message"
			if _, e := decodeJSON(body, "message"); e != nil {
				msg = e.Message
			}
			c.countRefused(ReasonMalformed)
			c.fail(w, http.StatusBadRequest, msg)
			return
		}
		if !fromHeader {
			key = writeKeyOf(body)
		}
		items = []json.RawMessage{body}
	}
	if !fromHeader {
		src, st, msg, wait := c.source(r.Context(), key, r)
		if st != 0 {
			c.setRetryAfter(w, st, wait)
			c.fail(w, st, msg)
			return
		}
		source = src
	}
	env.Source = source

	resp := Response{Success: true}
	events := make([]graph.Event, 0, len(items))
	index := make([]int, 0, len(items)) // event -> item
	var consents [][]privacy.Record     // by event; nil while no message carries consent
	for i, raw := range items {
		env.Position = i
		ev, err := c.Parse(raw, env)
		var recs []privacy.Record
		if err == nil {
			if recs, err = c.consentRecords(raw, env.Context, ev, i, strictConsent); err != nil {
				c.m.rejected.WithLabelValues(ReasonInvalidConsent).Inc()
				err = &MessageError{Reason: ReasonInvalidConsent, Message: graph.ErrorMessage(err)}
			}
		}
		if err != nil {
			if !isBatch {
				var me *MessageError
				st := http.StatusBadRequest
				if errors.As(err, &me) && me.Reason == ReasonTooLarge {
					st = http.StatusRequestEntityTooLarge
				}
				c.fail(w, st, err.Error())
				return
			}
			resp.Rejected++
			resp.Errors = append(resp.Errors, ItemError{Index: i, Reason: err.Error()})
			continue
		}
		if recs != nil && consents == nil {
			consents = make([][]privacy.Record, len(events), len(items))
		}
		if consents != nil {
			consents = append(consents, recs)
		}
		events = append(events, ev)
		index = append(index, i)
	}

	ctx := r.Context()
	if consents != nil {
		ctx = WithConsent(ctx, consents)
	}
	results, err := c.Submit(ctx, events)
	if err != nil {
		c.failSubmit(w, r.Context(), err)
		return
	}
	for j, res := range results {
		switch res.Status {
		case graph.StatusStored:
			resp.Stored++
		case graph.StatusDuplicate:
			resp.Duplicates++
		case graph.StatusConflict:
			if !isBatch {
				c.fail(w, http.StatusConflict, res.Reason)
				return
			}
			resp.Rejected++
			resp.Errors = append(resp.Errors, ItemError{Index: index[j], Reason: res.Reason})
		default:
			if !isBatch {
				c.fail(w, http.StatusBadRequest, res.Reason)
				return
			}
			resp.Rejected++
			resp.Errors = append(resp.Errors, ItemError{Index: index[j], Reason: res.Reason})
		}
	}
	if len(resp.Errors) > 1 {
		sortItemErrors(resp.Errors)
	}
	writeJSON(w, http.StatusOK, resp)
}

// countRefused counts a single message refused before Parse could read it
// (the body is the message) as received and rejected for reason, as Parse
// counts the messages it refuses.
func (c *Collector) countRefused(reason string) {
	c.m.received.Inc()
	c.m.rejected.WithLabelValues(reason).Inc()
}

// readBody reads the body, gunzipping when asked, within MaxRequestBytes
// both before and after decompression.
func (c *Collector) readBody(r *http.Request) ([]byte, int, string) {
	limit := c.cfg.MaxRequestBytes
	tooBig := fmt.Sprintf("request body is over the %s per-request limit", sizeName(limit))
	if r.ContentLength > int64(limit) {
		return nil, http.StatusRequestEntityTooLarge, tooBig
	}
	var src io.Reader = http.MaxBytesReader(nil, r.Body, int64(limit))
	gzipped := false
	enc, n, known := contentCoding(r.Header.Values("Content-Encoding"))
	switch {
	case !known:
		// Not a coding HTTP registers: the value is the client's own
		// text, and answers reach logs.
		return nil, http.StatusUnsupportedMediaType, "Content-Encoding is not one HTTP defines (the value is not repeated): send gzip or no encoding"
	case n > 1:
		return nil, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding applies %d codings; send gzip alone or no encoding", n)
	}
	switch enc {
	case "":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Sprintf("body is not valid gzip: %v", err)
		}
		defer zr.Close()
		src, gzipped = zr, true
	case "br", "deflate", "compress", "zstd":
		return nil, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q is not supported: send gzip or no encoding", enc)
	}
	body, err := io.ReadAll(io.LimitReader(src, int64(limit)+1))
	if err != nil {
		if len(body) > limit {
			return nil, http.StatusRequestEntityTooLarge, tooBig
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, tooBig
		}
		if gzipped {
			return nil, http.StatusBadRequest, fmt.Sprintf("body is not valid gzip: %v", err)
		}
		return nil, http.StatusBadRequest, fmt.Sprintf("could not read the request body: %v", err)
	}
	if len(body) > limit {
		return nil, http.StatusRequestEntityTooLarge, tooBig
	}
	return body, 0, ""
}

// parseBatch reads {batch, sentAt, context, writeKey} and returns the raw
// messages. The key is the body's writeKey, else that of the first
// message carrying one (analytics.js puts it in every message).
func (c *Collector) parseBatch(body []byte, env *Envelope) ([]json.RawMessage, string, int, string) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, "", http.StatusBadRequest, "request body is empty: /v1/batch takes {\"batch\": [messages...]}"
	}
	if !json.Valid(trimmed) {
		_, e := decodeJSON(trimmed, "request body")
		msg := "malformed JSON in request body"
		if e != nil {
			msg = e.Message
		}
		return nil, "", http.StatusBadRequest, msg
	}
	if trimmed[0] != '{' {
		var v any
		_ = json.Unmarshal(trimmed, &v)
		return nil, "", http.StatusBadRequest, fmt.Sprintf("request body must be a JSON object {\"batch\": [...]}, not %s", jsonType(v))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return nil, "", http.StatusBadRequest, fmt.Sprintf("malformed request body: %v", err)
	}
	rawBatch, ok := top["batch"]
	if !ok || string(rawBatch) == "null" {
		return nil, "", http.StatusBadRequest, "batch is missing: /v1/batch takes {\"batch\": [messages...]}"
	}
	var items []json.RawMessage
	if err := json.Unmarshal(rawBatch, &items); err != nil {
		var v any
		_ = json.Unmarshal(rawBatch, &v)
		return nil, "", http.StatusBadRequest, fmt.Sprintf("batch must be an array of messages, not %s", jsonType(v))
	}
	if len(items) == 0 {
		return nil, "", http.StatusBadRequest, "batch is empty: send at least one message"
	}
	if raw, ok := top["context"]; ok {
		v, e := decodeJSON(raw, "context")
		if e != nil {
			return nil, "", http.StatusBadRequest, e.Message
		}
		if v != nil {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, "", http.StatusBadRequest, fmt.Sprintf("batch context must be an object, not %s", jsonType(v))
			}
			if e := keepSurrogates(raw, m, contextIdentifierPath, "batch context"); e != nil {
				return nil, "", http.StatusBadRequest, e.Message
			}
			// It is merged into every message, so each may store all of it:
			// no larger than a message, and, copied into every message of
			// the batch, no more than MaxContextCopies requests' worth.
			if max := cmp.Or(env.MaxBytes, DefaultMaxMessageBytes); len(raw) > max {
				return nil, "", http.StatusBadRequest, fmt.Sprintf("batch context is %d bytes, over the %s per-message limit (it is merged into every message)", len(raw), sizeName(max))
			}
			if copies, most := int64(len(raw))*int64(len(items)), int64(MaxContextCopies)*int64(c.cfg.MaxRequestBytes); copies > most {
				return nil, "", http.StatusBadRequest, fmt.Sprintf("batch context is %d bytes and is merged into each of the %d messages: %d bytes in all, over the %s a batch's context may add (%d times the request limit); send a smaller context, or fewer messages per batch",
					len(raw), len(items), copies, sizeName(int(most)), MaxContextCopies)
			}
			env.Context = m
		}
	}
	if raw, ok := top["sentAt"]; ok && string(raw) != "null" {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "", http.StatusBadRequest, "sentAt must be an ISO-8601 string"
		}
		if strings.TrimSpace(s) != "" { // blank is absent, as a message's is
			t, err := ParseTime(s)
			if err != nil {
				return nil, "", http.StatusBadRequest, "sentAt " + err.Error()
			}
			// Not range-checked: a skewed clock dates it wrong, and the
			// skew correction of each message's time rights it; the
			// corrected time is checked (eventTime).
			env.SentAt = t
		}
	}
	key := writeKeyOf(trimmed)
	for i := 0; key == "" && i < len(items); i++ {
		key = writeKeyOf(items[i])
	}
	return items, key, 0, ""
}

// basicUser returns the user name of a Basic Authorization header, or ""
// when there is none. Segment's HTTP API takes the write key there with an
// empty password ("key:" encoded) and, from older clients, encoded without
// the colon; both name the key.
func basicUser(r *http.Request) string {
	if user, _, ok := r.BasicAuth(); ok {
		return user
	}
	scheme, cred, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return ""
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil || strings.Contains(string(dec), ":") {
		return ""
	}
	return string(dec)
}

// writeKeyOf returns the writeKey field of a JSON object, or "".
func writeKeyOf(raw []byte) string {
	var v struct {
		WriteKey any `json:"writeKey"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	s, _ := v.WriteKey.(string)
	return s
}

// keyHowTo says how to send a key, for the 401 answers.
const keyHowTo = "send it as the Basic auth user name (empty password) or as writeKey in the body"

// source maps a write key to its source name, or returns the status and
// message refusing the request (never echoing the key), and with 429 how
// long to wait. A static key (Config.WriteKeys) maps to its source; an API
// key ("cdp_...") goes to Config.Keys, and its source labels the events
// (a key without one takes the source header's, or "default"). Without
// static keys, a request without a known key passes while Config.Keys
// does not enforce keys, the source header naming its source.
func (c *Collector) source(ctx context.Context, key string, r *http.Request) (string, int, string, time.Duration) {
	hdr := strings.TrimSpace(r.Header.Get(SourceHeader))
	if hdr != "" && !sourceRe.MatchString(hdr) {
		// The value is not repeated: it can be any text the client sent.
		// One that is a source name is (below), when it does not match.
		return "", http.StatusBadRequest, fmt.Sprintf("%s is not a source name (the value is not repeated): use letters, digits, _ . and - (at most 64, starting with a letter or digit)", SourceHeader), 0
	}
	if graph.ReservedSource(hdr) {
		return "", http.StatusBadRequest, fmt.Sprintf("%s %q is %s", SourceHeader, hdr, reservedWhy), 0
	}
	matches := func(src, whose string) (string, int, string, time.Duration) {
		if hdr != "" && hdr != src {
			return "", http.StatusBadRequest, fmt.Sprintf("%s %q does not match the %s's source %q", SourceHeader, hdr, whose, src), 0
		}
		return src, 0, "", 0
	}
	if src, ok := c.cfg.WriteKeys[key]; ok && key != "" {
		return matches(src, "write key")
	}
	if c.cfg.Keys != nil && strings.HasPrefix(key, access.SecretPrefix) {
		src, st, msg, wait := c.cfg.Keys.WriteKey(ctx, key)
		if st != 0 {
			if msg == "" {
				msg = http.StatusText(st)
			}
			return "", st, msg, wait
		}
		if src == "" {
			return orDefault(hdr), 0, "", 0
		}
		return matches(src, "API key")
	}
	keyKinds := "a write key"
	if c.cfg.Keys != nil {
		keyKinds = "a write key or an API key with the events:write scope"
	}
	if len(c.cfg.WriteKeys) == 0 {
		enforced, err := c.enforcement(ctx)
		if !enforced {
			return orDefault(hdr), 0, "", 0
		}
		if err != nil {
			// Not a 401: a client drops what a 401 refused.
			return "", http.StatusServiceUnavailable, "the store is unavailable, so whether this collector needs a write key cannot be checked; nothing in this request was acknowledged, retry later", c.cfg.RetryAfter
		}
	}
	if key == "" {
		return "", http.StatusUnauthorized, fmt.Sprintf("write key missing: this collector needs %s; %s", keyKinds, keyHowTo), 0
	}
	return "", http.StatusUnauthorized, fmt.Sprintf("write key not recognized: this collector needs %s; %s", keyKinds, keyHowTo), 0
}

func orDefault(src string) string {
	if src == "" {
		return DefaultSource
	}
	return src
}

// enforcement reports whether requests need a key, and the error when the
// store could not say (see auth.Guard.Enforcement).
func (c *Collector) enforcement(ctx context.Context) (bool, error) {
	switch k := c.cfg.Keys.(type) {
	case nil:
		return false, nil
	case interface {
		Enforcement(context.Context) (bool, error)
	}:
		return k.Enforcement(ctx)
	default:
		return k.Enforced(ctx), nil
	}
}

// setRetryAfter sets Retry-After on a 429 or 503 refusal of a key: wait
// rounded up to whole seconds, at least 1.
func (c *Collector) setRetryAfter(w http.ResponseWriter, status int, wait time.Duration) {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return
	}
	if wait <= 0 {
		wait = c.cfg.RetryAfter
	}
	setWait(w, status, wait)
}

// setWait sets Retry-After to wait, rounded up to whole seconds (at least
// 1), and on a 429 X-RateLimit-Reset to the same seconds, as Segment's API
// sends it: analytics.js reads only that one.
func setWait(w http.ResponseWriter, status int, wait time.Duration) {
	secs := strconv.Itoa(retrySeconds(wait))
	w.Header().Set("Retry-After", secs)
	if status == http.StatusTooManyRequests {
		w.Header().Set("X-RateLimit-Reset", secs)
	}
}

func retrySeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}

func (c *Collector) failSubmit(w http.ResponseWriter, ctx context.Context, err error) {
	switch {
	case errors.Is(err, ErrOverloaded):
		c.retryAfter(w, http.StatusTooManyRequests)
		c.fail(w, http.StatusTooManyRequests, "too many events waiting to be stored; retry later")
	case errors.Is(err, ErrClosed):
		c.retryAfter(w, http.StatusServiceUnavailable)
		c.fail(w, http.StatusServiceUnavailable, "the collector is shutting down; retry later")
	case graph.ErrorCode(err) == graph.EUNAVAILABLE:
		c.retryAfter(w, http.StatusServiceUnavailable)
		c.fail(w, http.StatusServiceUnavailable, "the store is unavailable; nothing in this request was acknowledged, retry later")
	case ctx.Err() != nil:
		// The client is gone; whatever was queued still commits.
		c.retryAfter(w, http.StatusServiceUnavailable)
		c.fail(w, http.StatusServiceUnavailable, "request ended before its events were committed; retry later")
	default:
		c.log.Error().Err(err).Msg("ingest: submit failed")
		c.fail(w, http.StatusInternalServerError, "internal error")
	}
}

// refuse answers a request whose body may be partly unread (a 413, or a
// refusal decided before reading it): the rest of the body is read and
// discarded first, within bounds, so the client reads the answer instead
// of a reset connection (see httpdrain).
func (c *Collector) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	httpdrain.Body(w, r)
	c.fail(w, status, msg)
}

func (c *Collector) retryAfter(w http.ResponseWriter, status int) {
	setWait(w, status, c.cfg.RetryAfter)
}

func (c *Collector) fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, failure{Success: false, Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

func sortItemErrors(es []ItemError) {
	sort.Slice(es, func(i, j int) bool { return es[i].Index < es[j].Index })
}

// httpCodings are the content codings HTTP registers (RFC 9110, 8.4.1,
// and the IANA registry), lower-cased, identity aside.
var httpCodings = map[string]bool{"gzip": true, "x-gzip": true, "br": true, "deflate": true, "compress": true,
	"x-compress": true, "zstd": true, "dcb": true, "dcz": true, "exi": true, "pack200-gzip": true, "aes128gcm": true}

// contentCoding reads the Content-Encoding header's values, a list of the
// codings applied in order: the coding of the body once identity (which
// changes nothing) is left out ("" for none), how many codings it
// applies, and whether every one is a coding HTTP registers.
func contentCoding(values []string) (coding string, n int, known bool) {
	for _, v := range values {
		for _, c := range strings.Split(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			if c == "" || c == "identity" {
				continue
			}
			if !httpCodings[c] {
				return "", 0, false
			}
			coding, n = c, n+1
		}
	}
	return coding, n, true
}
