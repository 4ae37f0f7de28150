package privacy

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// The hashes are those of openssl dgst -sha256 -mac HMAC -macopt hexkey:...
func TestHasherMatchesOpenSSL(t *testing.T) {
	key := make([]byte, SuppressionKeyLen)
	for i := range key {
		key[i] = byte(i + 1)
	}
	h, err := NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.Hash("email:ann@example.com"), "5f8441172f90a9cbe345fcd281abe87753ec520a125c7f2da0185167c4b57c95"; got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
	key[0] = 99 // the Hasher keeps its own copy
	if got, want := h.Hash("email:ann@example.com"), "5f8441172f90a9cbe345fcd281abe87753ec520a125c7f2da0185167c4b57c95"; got != want {
		t.Errorf("after the caller changed its slice: Hash = %s, want %s", got, want)
	}
	zero, err := NewHasher(make([]byte, SuppressionKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := zero.Hash(""), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"; got != want {
		t.Errorf("Hash of the empty key under zeros = %s, want %s", got, want)
	}
}

func TestNewHasherRefusesOtherLengths(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewHasher(make([]byte, n)); graph.ErrorCode(err) != graph.EINVALID {
			t.Errorf("NewHasher(%d bytes) = %v, want EINVALID", n, err)
		}
	}
}

func TestNewSuppressionKey(t *testing.T) {
	a, b := NewSuppressionKey(), NewSuppressionKey()
	if len(a) != SuppressionKeyLen || len(b) != SuppressionKeyLen || bytes.Equal(a, b) {
		t.Fatalf("two new keys: %x and %x", a, b)
	}
}

func TestValidHash(t *testing.T) {
	for s, want := range map[string]bool{
		strings.Repeat("0", 64):        true,
		strings.Repeat("af", 32):       true,
		strings.Repeat("A", 64):        false,
		strings.Repeat("0", 63):        false,
		strings.Repeat("0", 65):        false,
		strings.Repeat("g", 64):        false,
		"":                             false,
		"email:ann@example.com":        false,
		strings.Repeat("0", 63) + " ":  false,
		strings.Repeat("0", 62) + "\n": false,
	} {
		if got := ValidHash(s); got != want {
			t.Errorf("ValidHash(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestCheckSuppressions(t *testing.T) {
	at := time.Date(2026, 4, 1, 9, 0, 0, 123456789, time.FixedZone("x", 3600))
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	got, err := CheckSuppressions([]Suppression{
		{Hash: a, At: at, Reason: "first"},
		{Hash: b, At: at},
		{Hash: a, At: at.Add(time.Hour), Reason: "second"},
	})
	if err != nil {
		t.Fatal(err)
	}
	clean := time.Date(2026, 4, 1, 8, 0, 0, 123456000, time.UTC)
	want := []Suppression{{Hash: a, At: clean, Reason: "first"}, {Hash: b, At: clean}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("CheckSuppressions = %+v, want %+v", got, want)
	}
	_, err = CheckSuppressions([]Suppression{{Hash: a, At: at}, {Hash: a, At: at, Reason: "é\x7f"}})
	if graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), "suppression 1: suppression reason") {
		t.Fatalf("a control character in a reason: %v", err)
	}
	if _, err := CheckSuppressions([]Suppression{{Hash: a, At: at, Reason: strings.Repeat("é", MaxSuppressionReasonLen/2)}}); err != nil {
		t.Fatalf("a reason of exactly %d bytes: %v", MaxSuppressionReasonLen, err)
	}
}
