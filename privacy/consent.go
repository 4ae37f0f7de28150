package privacy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// Status is what a person decided for a purpose.
type Status string

// The statuses a record may hold.
const (
	StatusGranted   Status = "GRANTED"
	StatusDenied    Status = "DENIED"
	StatusWithdrawn Status = "WITHDRAWN"
)

// State is a profile's consent for a purpose: a record's status, EXPIRED
// for a grant past its expiry, or UNKNOWN when there is no record.
type State string

// The states of a purpose.
const (
	StateGranted   State = "GRANTED"
	StateDenied    State = "DENIED"
	StateWithdrawn State = "WITHDRAWN"
	StateExpired   State = "EXPIRED"
	StateUnknown   State = "UNKNOWN"
)

// LegalBasis is the GDPR Article 6 ground a record relies on.
type LegalBasis string

// The legal bases.
const (
	BasisConsent             LegalBasis = "CONSENT"
	BasisContract            LegalBasis = "CONTRACT"
	BasisLegalObligation     LegalBasis = "LEGAL_OBLIGATION"
	BasisVitalInterests      LegalBasis = "VITAL_INTERESTS"
	BasisPublicTask          LegalBasis = "PUBLIC_TASK"
	BasisLegitimateInterests LegalBasis = "LEGITIMATE_INTERESTS"
)

var (
	statuses = []Status{StatusGranted, StatusDenied, StatusWithdrawn}
	bases    = []LegalBasis{BasisConsent, BasisContract, BasisLegalObligation, BasisVitalInterests, BasisPublicTask, BasisLegitimateInterests}
)

// ParseStatus parses a status name, case-insensitively.
//
// Errors: EINVALID, listing the statuses.
func ParseStatus(s string) (Status, error) {
	for _, st := range statuses {
		if strings.EqualFold(strings.TrimSpace(s), string(st)) {
			return st, nil
		}
	}
	return "", graph.Errorf(graph.EINVALID, "status %q is not one of GRANTED, DENIED, WITHDRAWN", clip(s, 40))
}

// ParseLegalBasis parses a legal basis name, case-insensitively.
//
// Errors: EINVALID, listing the bases.
func ParseLegalBasis(s string) (LegalBasis, error) {
	for _, b := range bases {
		if strings.EqualFold(strings.TrimSpace(s), string(b)) {
			return b, nil
		}
	}
	return "", graph.Errorf(graph.EINVALID, "legalBasis %q is not one of CONSENT, CONTRACT, LEGAL_OBLIGATION, VITAL_INTERESTS, PUBLIC_TASK, LEGITIMATE_INTERESTS", clip(s, 40))
}

// ParseImportValue parses a consent value from an imported file: true or
// granted is GRANTED, false or denied is DENIED, withdrawn is WITHDRAWN,
// case-insensitively and with surrounding spaces ignored. An empty value
// is an error too: a caller that means "no decision" skips the cell.
//
// Errors: EINVALID. The message does not repeat the value: a column mapped
// by mistake may hold personal data.
func ParseImportValue(v string) (Status, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "granted":
		return StatusGranted, nil
	case "false", "denied":
		return StatusDenied, nil
	case "withdrawn":
		return StatusWithdrawn, nil
	}
	return "", graph.Errorf(graph.EINVALID, "consent value must be one of true, false, granted, denied, withdrawn")
}

// Proof is how a record can be shown to be what the person decided.
type Proof struct {
	// Text is the wording the person was shown, or empty when Version
	// names it.
	Text string
	// Version names the wording (a policy or banner version).
	Version string
	// Channel is where it was collected: web, app, email, in store...
	Channel string
	// Collector is what collected it: a form, a banner id.
	Collector string
	// EventID is the stored id of the event that carried the decision
	// (ingest.EventID: "source/messageId"), for records read from events.
	EventID string
}

// Size bounds of a record's fields, in bytes.
const (
	MaxProofTextBytes  = 8192
	MaxProofFieldBytes = 256
	MaxEventIDBytes    = 400 // a source (64), "/" and a message id (256)
)

// Record is one entry of the consent ledger. It hangs on the identifier it
// was given with; merges and splits carry it with that identifier.
type Record struct {
	// ID is the record's id: NewRecordID, or DatedRecordIDFor for a record
	// read from an event.
	ID      string
	Purpose string
	Status  Status
	// At is when the person decided; the state rule orders records by it.
	At     time.Time
	Source string
	// LegalBasis is required; FromSegment and the import give CONSENT.
	LegalBasis LegalBasis
	// Identifier is the graph key (type:value) of the identifier the record
	// was given with. Errors never repeat it.
	Identifier string
	Proof      Proof
	// ExpiresAt is when a grant stops counting, or zero for never.
	ExpiresAt time.Time
	// ReceivedAt is when the service stored the record; it breaks ties of At.
	ReceivedAt time.Time
}

var (
	recordIDRe = regexp.MustCompile(`^cns_[0-9a-f]{32}$`)
	// sourceRe is ingest's rule for source names.
	sourceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// isKeyType reports whether s is an identifier type or a purpose name:
// a lowercase letter, then at most 63 lowercase letters, digits and _.
// It is checked on every key of every consent read, so it is a loop over
// bytes rather than a regular expression.
func isKeyType(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// NewRecordID returns a random record id.
func NewRecordID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "cns_" + hex.EncodeToString(b[:])
}

// RecordIDFor derives an id from the parts of a record read from an event
// alone: the id such records had before DatedRecordIDFor (a ledger may
// still hold them). It holds no personal value: the parts are hashed.
func RecordIDFor(eventID, identifier, purpose string) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + identifier + "\x00" + purpose))
	return "cns_" + hex.EncodeToString(sum[:16])
}

// MaxRecordSeq is the largest position DatedRecordIDFor keeps apart; later
// positions share it.
const MaxRecordSeq = 1<<16 - 1

// DatedRecordIDFor derives the id of a record read from an event, so that
// the same event read twice gives the same ids (a store may then ignore
// the copy): the id begins with dated, the event's own time (microseconds
// since 1970, 14 hex digits), then seq, the message's position in the
// request that brought it (4 hex digits, MaxRecordSeq at most), then holds
// 14 hex digits of the hash of the parts.
//
// The collector receives the messages of one request a microsecond
// apart, in its order, so their records differ in receivedAt; records
// that tie on both at and receivedAt (from a caller that gives one
// receipt to several messages, or clamped to one arrival as
// SegmentConsent.Records clamps a message dated ahead of the server's
// clock) are ordered by the state rule's last tie-break, the id: as the
// sender dated them, and those dated alike as the request gives them. A grant then a withdrawal a minute later in one
// batch from a fast clock stays a withdrawal, and so does a grant then a
// withdrawal in one batch without timestamps. It holds no personal value:
// a time, a position, and the parts hashed.
func DatedRecordIDFor(eventID, identifier, purpose string, dated time.Time, seq int) string {
	us := max(graph.Clean(dated).UnixMicro(), 0)
	sum := sha256.Sum256([]byte(eventID + "\x00" + identifier + "\x00" + purpose))
	return fmt.Sprintf("cns_%014x%04x", us&(1<<56-1), min(max(seq, 0), MaxRecordSeq)) + hex.EncodeToString(sum[:7])
}

// Clean returns r with its times as stores keep them (graph.Clean: UTC,
// microseconds).
func (r Record) Clean() Record {
	r.At = graph.Clean(r.At)
	r.ReceivedAt = graph.Clean(r.ReceivedAt)
	if !r.ExpiresAt.IsZero() {
		r.ExpiresAt = graph.Clean(r.ExpiresAt)
	}
	return r
}

// Validate checks every field of r; p gives the known purposes.
//
// Errors: EINVALID, naming the field; an unknown purpose lists the known
// ones.
func (r Record) Validate(p *Purposes) error {
	bad := func(format string, args ...any) error { return graph.Errorf(graph.EINVALID, format, args...) }
	switch {
	case !recordIDRe.MatchString(r.ID):
		return bad("consent record id %q is not cns_ followed by 32 lowercase hex digits", clip(r.ID, 50))
	case r.Purpose == "":
		return bad("purpose is missing; the purposes are %s", p.String())
	}
	if err := p.Check(r.Purpose); err != nil {
		return err
	}
	switch {
	case r.Status == "":
		return bad("status is missing")
	case !slices.Contains(statuses, r.Status):
		return bad("status %q is not one of GRANTED, DENIED, WITHDRAWN", clip(string(r.Status), 40))
	case r.LegalBasis == "":
		return bad("legalBasis is missing")
	case !slices.Contains(bases, r.LegalBasis):
		return bad("legalBasis %q is not one of CONSENT, CONTRACT, LEGAL_OBLIGATION, VITAL_INTERESTS, PUBLIC_TASK, LEGITIMATE_INTERESTS", clip(string(r.LegalBasis), 40))
	}
	switch {
	case r.At.IsZero():
		return bad("at (when the person decided) is missing")
	case r.ReceivedAt.IsZero():
		return bad("receivedAt is missing")
	case !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(r.At):
		return bad("expiresAt %s is not after at %s", r.ExpiresAt.UTC().Format(time.RFC3339Nano), r.At.UTC().Format(time.RFC3339Nano))
	case r.Source == "":
		return bad("source is missing")
	case !sourceRe.MatchString(r.Source):
		return bad("source %q is not valid: use letters, digits, _ . and - (at most 64, starting with a letter or digit)", clip(r.Source, 70))
	}
	if err := checkIdentifier(r.Identifier); err != nil {
		return err
	}
	return r.Proof.validate()
}

// checkIdentifier checks a graph key without ever repeating its value.
func checkIdentifier(key string) error {
	bad := func(format string, args ...any) error { return graph.Errorf(graph.EINVALID, format, args...) }
	typ, val, ok := strings.Cut(key, ":")
	switch {
	case key == "":
		return bad("identifier is missing")
	case !ok || !isKeyType(typ):
		return bad("identifier is not a graph key (type:value, the type in lowercase letters, digits and _)")
	case val == "" || strings.TrimSpace(val) != val:
		return bad("identifier %s has an empty or unnormalized value", typ)
	case len(val) > graph.MaxValueBytes || !printable(val, false):
		return bad("identifier %s value must be at most %d bytes of printable UTF-8", typ, graph.MaxValueBytes)
	}
	return nil
}

func (p Proof) validate() error {
	bad := func(format string, args ...any) error { return graph.Errorf(graph.EINVALID, format, args...) }
	if len(p.Text) > MaxProofTextBytes || !printable(p.Text, true) {
		return bad("proof.text must be at most %d bytes of printable UTF-8", MaxProofTextBytes)
	}
	for _, f := range []struct{ name, v string }{{"version", p.Version}, {"channel", p.Channel}, {"collector", p.Collector}} {
		if len(f.v) > MaxProofFieldBytes || !printable(f.v, false) {
			return bad("proof.%s must be at most %d bytes of printable UTF-8", f.name, MaxProofFieldBytes)
		}
	}
	if len(p.EventID) > MaxEventIDBytes || !printable(p.EventID, false) {
		return bad("proof.eventId must be at most %d bytes of printable UTF-8", MaxEventIDBytes)
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters;
// multiline allows newlines and tabs (a consent text may hold paragraphs).
func printable(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			return false
		}
		return unicode.IsControl(r)
	})
}

// clip shortens s for an error message, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
