package privacy

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idgraph/cdp/graph"
)

func defaultPurposes(t *testing.T) *Purposes {
	t.Helper()
	p, err := NewPurposes(graph.DefaultRules().Consent)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConsentParseStatus(t *testing.T) {
	cases := []struct {
		in   string
		want Status
	}{
		{"GRANTED", StatusGranted}, {"denied", StatusDenied}, {" Withdrawn ", StatusWithdrawn},
	}
	for _, c := range cases {
		if got, err := ParseStatus(c.in); err != nil || got != c.want {
			t.Errorf("ParseStatus(%q) = %q, %v, want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "EXPIRED", "UNKNOWN", "true", "GRANTEDX"} {
		_, err := ParseStatus(in)
		if graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), "GRANTED, DENIED, WITHDRAWN") {
			t.Errorf("ParseStatus(%q) error = %v, want EINVALID listing the statuses", in, err)
		}
	}
}

func TestConsentParseLegalBasis(t *testing.T) {
	cases := []struct {
		in   string
		want LegalBasis
	}{
		{"CONSENT", BasisConsent}, {"contract", BasisContract}, {"Legal_Obligation", BasisLegalObligation},
		{"VITAL_INTERESTS", BasisVitalInterests}, {"public_task", BasisPublicTask}, {"LEGITIMATE_INTERESTS", BasisLegitimateInterests},
	}
	for _, c := range cases {
		if got, err := ParseLegalBasis(c.in); err != nil || got != c.want {
			t.Errorf("ParseLegalBasis(%q) = %q, %v, want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "LEGITIMATE INTERESTS", "gdpr"} {
		_, err := ParseLegalBasis(in)
		if graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), "legalBasis") || !strings.Contains(err.Error(), "PUBLIC_TASK") {
			t.Errorf("ParseLegalBasis(%q) error = %v, want EINVALID listing the bases", in, err)
		}
	}
}

func TestConsentParseImportValue(t *testing.T) {
	cases := []struct {
		in   string
		want Status
	}{
		{"true", StatusGranted}, {"TRUE", StatusGranted}, {" granted ", StatusGranted}, {"Granted", StatusGranted},
		{"false", StatusDenied}, {"False", StatusDenied}, {"DENIED", StatusDenied},
		{"withdrawn", StatusWithdrawn}, {"WithDrawn", StatusWithdrawn},
	}
	for _, c := range cases {
		if got, err := ParseImportValue(c.in); err != nil || got != c.want {
			t.Errorf("ParseImportValue(%q) = %q, %v, want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "yes", "1", "0", "ann@example.com", "expired"} {
		_, err := ParseImportValue(in)
		if graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), "true, false, granted, denied, withdrawn") {
			t.Errorf("ParseImportValue(%q) error = %v, want EINVALID listing the values", in, err)
		}
		if in != "" && err != nil && strings.Contains(err.Error(), in) {
			t.Errorf("ParseImportValue(%q) error repeats the value: %v", in, err)
		}
	}
}

func TestConsentRecordIDs(t *testing.T) {
	// sha256("web/m-1\x00email:ann@example.com\x00advertising"), first 16 bytes.
	if got := RecordIDFor("web/m-1", "email:ann@example.com", "advertising"); got != "cns_ecc0d074461c337ab56a4e0b1315664a" {
		t.Fatalf("RecordIDFor = %q", got)
	}
	if RecordIDFor("web/m-1", "email:ann@example.com", "email") == RecordIDFor("web/m-1", "email:ann@example.com", "advertising") {
		t.Fatal("two purposes of one event share an id")
	}
	a, b := NewRecordID(), NewRecordID()
	if a == b || !recordIDRe.MatchString(a) || !recordIDRe.MatchString(b) {
		t.Fatalf("NewRecordID gave %q and %q", a, b)
	}
}

func validRecord() Record {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	return Record{
		ID:         "cns_0123456789abcdef0123456789abcdef",
		Purpose:    "email",
		Status:     StatusGranted,
		At:         at,
		Source:     "web-banner.v2",
		LegalBasis: BasisConsent,
		Identifier: "email:ann@example.com",
		Proof:      Proof{Text: "Yes, send me news.\nUnsubscribe any time.", Version: "2026-04", Channel: "web", Collector: "banner-7", EventID: "web/m-1"},
		ExpiresAt:  at.AddDate(1, 0, 0),
		ReceivedAt: at.Add(time.Second),
	}
}

func TestConsentRecordValidate(t *testing.T) {
	p := defaultPurposes(t)
	if err := validRecord().Validate(p); err != nil {
		t.Fatalf("valid record refused: %v", err)
	}
	minimal := validRecord()
	minimal.Proof, minimal.ExpiresAt = Proof{}, time.Time{}
	if err := minimal.Validate(p); err != nil {
		t.Fatalf("record without proof or expiry refused: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Record)
		want string
	}{
		{"id", func(r *Record) { r.ID = "c1" }, `consent record id "c1" is not cns_`},
		{"id upper", func(r *Record) { r.ID = "cns_0123456789ABCDEF0123456789ABCDEF" }, "consent record id"},
		{"purpose missing", func(r *Record) { r.Purpose = "" }, "purpose is missing; the purposes are analytics, personalization, advertising, email, sms, push"},
		{"purpose unknown", func(r *Record) { r.Purpose = "Email" }, `purpose "Email" is not known; the purposes are analytics, personalization, advertising, email, sms, push`},
		{"status missing", func(r *Record) { r.Status = "" }, "status is missing"},
		{"status state", func(r *Record) { r.Status = "EXPIRED" }, `status "EXPIRED" is not one of GRANTED, DENIED, WITHDRAWN`},
		{"status case", func(r *Record) { r.Status = "granted" }, `status "granted" is not one of`},
		{"basis missing", func(r *Record) { r.LegalBasis = "" }, "legalBasis is missing"},
		{"basis unknown", func(r *Record) { r.LegalBasis = "GDPR" }, `legalBasis "GDPR" is not one of CONSENT,`},
		{"at", func(r *Record) { r.At = time.Time{} }, "at (when the person decided) is missing"},
		{"receivedAt", func(r *Record) { r.ReceivedAt = time.Time{} }, "receivedAt is missing"},
		{"expiry equal", func(r *Record) { r.ExpiresAt = r.At }, "expiresAt 2026-05-01T10:00:00Z is not after at 2026-05-01T10:00:00Z"},
		{"expiry before", func(r *Record) { r.ExpiresAt = r.At.Add(-time.Hour) }, "expiresAt 2026-05-01T09:00:00Z is not after at"},
		{"source missing", func(r *Record) { r.Source = "" }, "source is missing"},
		{"source", func(r *Record) { r.Source = "web/banner" }, `source "web/banner" is not valid`},
		{"identifier missing", func(r *Record) { r.Identifier = "" }, "identifier is missing"},
		{"identifier no type", func(r *Record) { r.Identifier = "ann@example.com" }, "identifier is not a graph key"},
		{"identifier bad type", func(r *Record) { r.Identifier = "E-mail:ann@example.com" }, "identifier is not a graph key"},
		{"identifier empty value", func(r *Record) { r.Identifier = "email:" }, "identifier email has an empty or unnormalized value"},
		{"identifier spaces", func(r *Record) { r.Identifier = "email: ann@example.com" }, "identifier email has an empty or unnormalized value"},
		{"identifier long", func(r *Record) { r.Identifier = "user_id:" + strings.Repeat("x", graph.MaxValueBytes+1) }, "identifier user_id value must be at most 1024 bytes of printable UTF-8"},
		{"identifier control", func(r *Record) { r.Identifier = "email:ann\x00@example.com" }, "identifier email value must be at most 1024 bytes"},
		{"identifier utf8", func(r *Record) { r.Identifier = "email:ann\xff@example.com" }, "identifier email value must be at most 1024 bytes"},
		{"proof text long", func(r *Record) { r.Proof.Text = strings.Repeat("a", MaxProofTextBytes+1) }, "proof.text must be at most 8192 bytes of printable UTF-8"},
		{"proof text control", func(r *Record) { r.Proof.Text = "yes\x1b[31m" }, "proof.text must be"},
		{"proof version", func(r *Record) { r.Proof.Version = strings.Repeat("v", MaxProofFieldBytes+1) }, "proof.version must be at most 256 bytes"},
		{"proof channel newline", func(r *Record) { r.Proof.Channel = "web\napp" }, "proof.channel must be"},
		{"proof collector utf8", func(r *Record) { r.Proof.Collector = "banner\xc3" }, "proof.collector must be"},
		{"proof event id", func(r *Record) { r.Proof.EventID = strings.Repeat("e", MaxEventIDBytes+1) }, "proof.eventId must be at most 400 bytes"},
	}
	for _, c := range cases {
		r := validRecord()
		c.edit(&r)
		err := r.Validate(p)
		if graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate error = %v, want EINVALID mentioning %q", c.name, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "ann@") || strings.Contains(err.Error(), "example.com") {
			t.Errorf("%s: error repeats the identifier's value: %v", c.name, err)
		}
	}
}

func TestConsentRecordClean(t *testing.T) {
	rome := time.FixedZone("CEST", 2*3600)
	r := Record{
		At:         time.Date(2026, 5, 1, 12, 0, 0, 123456789, rome),
		ReceivedAt: time.Date(2026, 5, 1, 12, 0, 1, 999, rome),
	}.Clean()
	if want := time.Date(2026, 5, 1, 10, 0, 0, 123456000, time.UTC); r.At != want {
		t.Errorf("At = %v, want %v", r.At, want)
	}
	if want := time.Date(2026, 5, 1, 10, 0, 1, 0, time.UTC); r.ReceivedAt != want {
		t.Errorf("ReceivedAt = %v, want %v", r.ReceivedAt, want)
	}
	if !r.ExpiresAt.IsZero() {
		t.Errorf("a record without expiry got one: %v", r.ExpiresAt)
	}
}

// TestIsKeyType checks the hand-written check against the regular
// expression it replaces, on strings drawn near its edges: lengths about
// 64, and bytes from its classes and just outside them.
func TestIsKeyType(t *testing.T) {
	ref := regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	for _, s := range []string{"", "a", "email", "user_id", "a" + strings.Repeat("b", 63), "a" + strings.Repeat("b", 64), "Email", "1a", "_a", "a-b", "a b", "é", "a\x00"} {
		if got, want := isKeyType(s), ref.MatchString(s); got != want {
			t.Errorf("isKeyType(%q) = %v; want %v", s, got, want)
		}
	}
	if t.Failed() {
		return // rapid refuses a test that has failed
	}
	alphabet := []byte("az09_`{/:AZ-. \xc3\xa9")
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 70).Draw(t, "n")
		b := make([]byte, n)
		for i := range b {
			b[i] = rapid.SampledFrom(alphabet).Draw(t, "c")
		}
		if s := string(b); isKeyType(s) != ref.MatchString(s) {
			t.Fatalf("isKeyType(%q) = %v; the expression says %v", s, isKeyType(s), ref.MatchString(s))
		}
	})
}

// DatedRecordIDFor: a record id whose first 14 hex digits are the time
// (microseconds), the next 4 the position, and whose rest is the hash of
// the parts; ids order by the time, then by the position, and the parts
// tell apart records of one time and position.
func TestDatedRecordIDs(t *testing.T) {
	at := time.Date(2026, 5, 1, 11, 0, 0, 123456789, time.UTC)
	id := DatedRecordIDFor("web/m-1", "email:ann@example.com", "advertising", at, 0)
	if !recordIDRe.MatchString(id) {
		t.Fatalf("DatedRecordIDFor = %q, not a record id", id)
	}
	// 1777633200123456 microseconds is 0x650bf7b6f2e40; the hash's first
	// 7 bytes are those of RecordIDFor's id.
	if want := "cns_0650bf7b6f2e400000ecc0d074461c33"; id != want {
		t.Errorf("DatedRecordIDFor = %q, want %q", id, want)
	}
	if DatedRecordIDFor("web/m-1", "email:ann@example.com", "advertising", at.In(time.FixedZone("X", 3600)), 0) != id {
		t.Error("the same time in another zone gives another id")
	}
	if DatedRecordIDFor("web/m-1", "email:ann@example.com", "email", at, 0) == id {
		t.Error("two purposes of one event share an id")
	}
	for _, later := range []time.Duration{time.Microsecond, time.Minute, 24 * time.Hour} {
		// A later time sorts after, whatever the parts hash to and
		// whatever the positions.
		for _, ev := range []string{"web/m-1", "web/m-2", "web/m-3"} {
			if next := DatedRecordIDFor(ev, "email:ann@example.com", "advertising", at.Add(later), 0); next <= DatedRecordIDFor("web/m-1", "email:ann@example.com", "advertising", at, MaxRecordSeq) {
				t.Errorf("%s %s later gives %s, not after %s", ev, later, next, id)
			}
		}
	}
	// Of one time, a later position sorts after, whatever the parts hash
	// to; positions past MaxRecordSeq share it.
	for _, ev := range []string{"web/m-1", "web/m-2", "web/m-3"} {
		if next := DatedRecordIDFor(ev, "email:ann@example.com", "advertising", at, 1); next <= id {
			t.Errorf("%s at position 1 gives %s, not after %s at 0", ev, next, id)
		}
	}
	if DatedRecordIDFor("web/m-1", "email:ann@example.com", "advertising", at, MaxRecordSeq+5) != DatedRecordIDFor("web/m-1", "email:ann@example.com", "advertising", at, MaxRecordSeq) {
		t.Error("a position past MaxRecordSeq is not held at it")
	}
}
