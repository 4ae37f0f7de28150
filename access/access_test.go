package access

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// The scope names are the issue's, in its order; written out here rather
// than taken from the constants, so a renamed constant fails.
func TestScopeNames(t *testing.T) {
	want := []string{
		"profiles:read", "pii:read", "events:write", "identity:write", "consent:write",
		"privacy:read", "privacy:write", "audiences:read", "audiences:write", "audit:read",
		"keys:admin", "metrics:read",
	}
	if got := ScopeNames(AllScopes()); !slices.Equal(got, want) {
		t.Fatalf("scopes = %v, want %v", got, want)
	}
	for _, n := range want {
		s, err := ParseScope(n)
		if err != nil || string(s) != n {
			t.Errorf("ParseScope(%q) = %q, %v", n, s, err)
		}
	}
}

func TestParseScopesRefusesUnknown(t *testing.T) {
	for _, bad := range []string{"profiles:write", "PROFILES:READ", "profiles:read ", "", "*", "keys"} {
		_, err := ParseScopes([]string{"profiles:read", bad})
		if graph.ErrorCode(err) != graph.EINVALID {
			t.Fatalf("ParseScopes(%q): %v, want invalid", bad, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, `"`+bad+`"`) || !strings.Contains(msg, "profiles:read, pii:read") || !strings.Contains(msg, "metrics:read") {
			t.Errorf("ParseScopes(%q): %q does not name the scope and list the valid ones", bad, msg)
		}
	}
	if _, err := ParseScopes(nil); graph.ErrorCode(err) != graph.EINVALID {
		t.Errorf("ParseScopes(nil) = %v, want invalid", err)
	}
}

// Repeated scopes collapse, and the result is in canonical order.
func TestParseScopesCanonical(t *testing.T) {
	got, err := ParseScopes([]string{"metrics:read", "profiles:read", "metrics:read", "pii:read"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Scope{ScopeProfilesRead, ScopePIIRead, ScopeMetricsRead}
	if !slices.Equal(got, want) {
		t.Fatalf("ParseScopes = %v, want %v", got, want)
	}
}

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestNewSecretFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := NewSecret()
		// "cdp_" + ceil(32*8/6) = 43 characters, no padding.
		if len(s) != 47 || !strings.HasPrefix(s, "cdp_") {
			t.Fatalf("secret %q: length %d, want 47 starting with cdp_", s, len(s))
		}
		for _, c := range s[4:] {
			if !strings.ContainsRune(b64url, c) {
				t.Fatalf("secret %q holds %q, outside the base64url alphabet", s, c)
			}
		}
		if err := CheckSecret(s); err != nil {
			t.Fatalf("CheckSecret(NewSecret()) = %v", err)
		}
		if seen[s] {
			t.Fatalf("secret %q made twice", s)
		}
		seen[s] = true
	}
}

func TestCheckSecretRefusesMalformed(t *testing.T) {
	good := "cdp_" + strings.Repeat("A", 43)
	if err := CheckSecret(good); err != nil {
		t.Fatalf("CheckSecret(%q) = %v", good, err)
	}
	for _, bad := range []string{
		"",
		"cdp_",
		strings.Repeat("A", 47),                      // no prefix
		"CDP_" + strings.Repeat("A", 43),             // prefix is case-sensitive
		"cdp_" + strings.Repeat("A", 42),             // short
		"cdp_" + strings.Repeat("A", 44),             // long
		"cdp_" + strings.Repeat("A", 42) + "=",       // padding
		"cdp_" + strings.Repeat("A", 42) + "+",       // standard alphabet
		"cdp_" + strings.Repeat("A", 41) + "/A",      // standard alphabet
		"cdp_" + strings.Repeat("A", 42) + "B",       // last character not canonical: stray bits
		"cdp_" + strings.Repeat("A", 21) + "é" + "A", // non-ASCII, right byte length
	} {
		err := CheckSecret(bad)
		if graph.ErrorCode(err) != graph.EINVALID {
			t.Errorf("CheckSecret(%q) = %v, want invalid", bad, err)
			continue
		}
		if len(bad) > 4 && strings.Contains(err.Error(), bad[4:]) {
			t.Errorf("CheckSecret's error %q echoes the secret", err)
		}
	}
}

func TestHashSecret(t *testing.T) {
	// sha256("cdp_x"), computed independently of HashSecret's code path.
	sum := sha256.Sum256([]byte("cdp_x"))
	want := hex.EncodeToString(sum[:])
	if got := HashSecret("cdp_x"); got != want || len(got) != 64 {
		t.Fatalf("HashSecret = %q, want %q", got, want)
	}
	if !SecretMatches("cdp_x", want) || SecretMatches("cdp_y", want) || SecretMatches("cdp_x", strings.ToUpper(want)) {
		t.Fatal("SecretMatches disagrees with the hash")
	}
}

func TestKeyUsable(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	k := Key{ExpiresAt: t0.Add(time.Hour)}
	if !k.Usable(t0) || k.Usable(t0.Add(time.Hour)) || k.Usable(t0.Add(2*time.Hour)) {
		t.Error("expiry: usable before ExpiresAt only")
	}
	k = Key{}
	if !k.Usable(t0) {
		t.Error("a key with neither expiry nor revocation is refused")
	}
	k.RevokedAt = t0
	if k.Usable(t0.Add(-time.Hour)) || k.Usable(t0) {
		t.Error("a revoked key is usable")
	}
}

func TestNewKey(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 1500, time.UTC)
	k, secret, err := NewKey("web", []string{"events:write"}, "web", time.Time{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if CheckSecret(secret) != nil || k.Hash != HashSecret(secret) || !k.Matches(secret) {
		t.Fatalf("NewKey: secret %q does not match hash %q", secret, k.Hash)
	}
	if !strings.HasPrefix(k.ID, "key_") || len(k.ID) != 4+32 {
		t.Errorf("key id %q, want key_ and 32 hex digits", k.ID)
	}
	if !k.CreatedAt.Equal(time.Date(2026, 3, 1, 0, 0, 0, 1000, time.UTC)) {
		t.Errorf("CreatedAt = %v, want microseconds", k.CreatedAt)
	}
	k2, secret2, err := NewKey("web", []string{"events:write"}, "web", time.Time{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if k2.ID == k.ID || secret2 == secret {
		t.Error("two keys share an id or a secret")
	}
	for _, c := range []struct {
		name, source string
		scopes       []string
		expires      time.Time
		mention      string
	}{
		{"", "", []string{"events:write"}, time.Time{}, "name"},
		{"x\ty", "", []string{"events:write"}, time.Time{}, "name"},
		{"x\u0085y", "", []string{"events:write"}, time.Time{}, "name"},
		{"x\u009fy", "", []string{"events:write"}, time.Time{}, "name"},
		{"x", "web site", []string{"events:write"}, time.Time{}, "source"},
		// The service labels corrections and rule refusals with these.
		{"x", "manual", []string{"events:write"}, time.Time{}, `source "manual" is reserved`},
		{"x", "Rules", []string{"events:write"}, time.Time{}, `source "Rules" is reserved`},
		{"x", "", []string{"events:read"}, time.Time{}, `"events:read"`},
		{"x", "", nil, time.Time{}, "scope"},
		{"x", "", []string{"events:write"}, now.Add(-time.Second), "expiry"},
	} {
		_, _, err := NewKey(c.name, c.scopes, c.source, c.expires, now)
		if graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("NewKey(%q, %v, %q, %v) = %v, want invalid mentioning %q", c.name, c.scopes, c.source, c.expires, err, c.mention)
		}
	}
}

// Audit ids sort by the time they were made, whatever their random half:
// for times worked out by hand, the id's first 16 hex digits are the Unix
// nanoseconds, and an id of a later time sorts after every id of an
// earlier one. Every id is a valid entry id, and none repeats.
func TestAuditIDsSortByTime(t *testing.T) {
	// 2026-01-02T03:04:05.000000006Z is 1767323045000000006 ns after the
	// epoch, 0x1886caf21c963206 (worked out apart: calendar.timegm gives
	// 1767323045 s; times 1e9, plus 6).
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	id := auditID(at)
	if !strings.HasPrefix(id, "aud_1886caf21c963206") || len(id) != 4+32 {
		t.Fatalf("auditID(%v) = %q, want aud_1886caf21c963206 and 16 more hex digits", at, id)
	}
	times := []time.Time{at, at.Add(time.Nanosecond), at.Add(time.Millisecond), at.Add(time.Hour), at.AddDate(3, 0, 0)}
	var ids []string
	seen := map[string]bool{}
	for _, tm := range times {
		for range 200 {
			id := auditID(tm)
			if seen[id] {
				t.Fatalf("id %q made twice", id)
			}
			seen[id] = true
			if err := (AuditEntry{ID: id, At: tm, Action: "a", Outcome: OutcomeOK}).Validate(); err != nil {
				t.Fatalf("id %q: %v", id, err)
			}
			ids = append(ids, id)
		}
	}
	for i := 200; i < len(ids); i++ {
		// Every id of a later time is above every id of the time before.
		prevMax := slices.Max(ids[i-i%200-200 : i-i%200])
		if ids[i] <= prevMax {
			t.Fatalf("id %q (time %d) sorts before %q of an earlier time", ids[i], i/200, prevMax)
		}
	}
	if NewAuditID() <= auditID(time.Now().Add(-time.Minute)) {
		t.Fatal("NewAuditID does not sort after an id of a minute ago")
	}
}

// RevokedWithReason names the keys revoked with another: all of them when
// they fit the reason's 1,000 bytes, else as many as fit and how many
// more; never past the bound.
func TestRevokedWithReason(t *testing.T) {
	if got := RevokedWithReason("key key_a", nil); got != "key key_a" {
		t.Errorf("no key with it: %q", got)
	}
	if got, want := RevokedWithReason("key key_a", []string{"key_b"}), "key key_a; with it 1 key it created, directly or not: key_b"; got != want {
		t.Errorf("one key: %q, want %q", got, want)
	}
	// 20 ids of 68 bytes: "key key_a; with it 20 keys it created,
	// directly or not: " is 56 bytes, each id after the first 70 (with
	// ", "), so 13 ids take 56+68+12*70 = 964 bytes, and ", and 7 more"
	// (12) makes 976; a 14th would make 1034, past 1,000, before the tail.
	var ids []string
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("key_%064d", i))
	}
	got := RevokedWithReason("key key_a", ids)
	want := "key key_a; with it 20 keys it created, directly or not: " + strings.Join(ids[:13], ", ") + ", and 7 more"
	if got != want {
		t.Errorf("20 long ids:\n got %q\nwant %q", got, want)
	}
	if len(got) > MaxReasonLen {
		t.Errorf("reason of %d bytes, over %d", len(got), MaxReasonLen)
	}
}

// Descendants follows CreatedBy down from a key, in id order, and stops
// on a loop (which only damaged data could hold).
func TestDescendants(t *testing.T) {
	keys := []Key{
		{ID: "key_r"}, {ID: "key_a", CreatedBy: "key_r"}, {ID: "key_c", CreatedBy: "key_a"},
		{ID: "key_b", CreatedBy: "key_c"}, {ID: "key_s", CreatedBy: "key_other"},
		{ID: "key_x", CreatedBy: "key_y"}, {ID: "key_y", CreatedBy: "key_x"},
	}
	ids := func(ks []Key) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.ID)
		}
		return out
	}
	if got, want := ids(Descendants("key_r", keys)), []string{"key_a", "key_b", "key_c"}; !slices.Equal(got, want) {
		t.Errorf("Descendants(r) = %v, want %v", got, want)
	}
	if got := Descendants("key_b", keys); len(got) != 0 {
		t.Errorf("Descendants(b) = %v, want none", ids(got))
	}
	if got, want := ids(Descendants("key_x", keys)), []string{"key_y"}; !slices.Equal(got, want) {
		t.Errorf("Descendants(x) in a loop = %v, want %v", got, want)
	}
}
