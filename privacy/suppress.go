package privacy

// The suppression list.
//
// An erased person must stay erased: re-sending their events must not bring
// them back. Each erased identifier is therefore added to a suppression
// list, and ingestion drops every message that carries one. The list must
// not itself be a list of the people who asked to be forgotten, so it
// holds no identifier, only its HMAC-SHA256 under a secret the store
// generates once (SuppressionStore.SuppressionKey): without the secret a
// hash cannot be checked against a guessed email or phone.
//
// The hash is of the identifier's graph key (type ":" normalized value, as
// graph.Normalizer gives it), so every spelling of an email that
// normalizes alike hashes alike. Both stores implement SuppressionStore;
// the suite in privacy/suppresstest checks them. SuppressionList puts a
// store and its Hasher together for the collector (ingest.Config's
// Suppression) and for erasure.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// SuppressionKeyLen is the length of the secret that keys the hashes.
const SuppressionKeyLen = 32

// MaxSuppressionReasonLen bounds Suppression.Reason.
const MaxSuppressionReasonLen = 200

// Suppression is one entry of the list. It holds no personal data: the
// hash, when it was added, and why (an erasure receipt id, say; never an
// identifier).
type Suppression struct {
	Hash   string    // Hasher.Hash of the identifier's key: lowercase hex HMAC-SHA256
	At     time.Time // kept as graph.Clean gives it
	Reason string    // at most MaxSuppressionReasonLen bytes of printable UTF-8; optional
}

// SuppressionStore is the suppression contract every store implements.
//
// Errors: EINVALID for a malformed hash or an entry Validate refuses;
// store failures as graph.Store's.
type SuppressionStore interface {
	// SuppressionKey returns the secret of the list's hashes,
	// SuppressionKeyLen random bytes that the store generates on the
	// first call and returns unchanged ever after. Concurrent first calls,
	// from one process or from several on one database, all get the same
	// secret.
	SuppressionKey(ctx context.Context) ([]byte, error)
	// Suppress adds entries in one transaction and a fixed number of round
	// trips. It is idempotent: a hash already on the list keeps its first
	// At and Reason, and so does a hash repeated in entries.
	Suppress(ctx context.Context, entries []Suppression) error
	// Unsuppress removes hash from the list and reports whether it was on
	// it.
	Unsuppress(ctx context.Context, hash string) (bool, error)
	// Suppressed returns the hashes among hashes that are on the list
	// (each mapped to true; the others are absent), in one round trip and
	// at most one indexed read per hash.
	Suppressed(ctx context.Context, hashes []string) (map[string]bool, error)
	// CountSuppressed counts the hashes on the list.
	CountSuppressed(ctx context.Context) (int, error)
}

// NewSuppressionKey returns SuppressionKeyLen random bytes: what a store
// keeps as its secret when it has none yet.
func NewSuppressionKey() []byte {
	b := make([]byte, SuppressionKeyLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// Hasher hashes identifier keys under a store's secret.
type Hasher struct {
	key []byte
}

// NewHasher returns the Hasher of secret, which must be SuppressionKeyLen
// bytes.
//
// Errors: EINVALID.
func NewHasher(secret []byte) (*Hasher, error) {
	if len(secret) != SuppressionKeyLen {
		return nil, graph.Errorf(graph.EINVALID, "suppression key is %d bytes, want %d", len(secret), SuppressionKeyLen)
	}
	return &Hasher{key: append([]byte(nil), secret...)}, nil
}

// Hash returns the lowercase hex HMAC-SHA256 of key, an identifier's graph
// key ("email:ann@example.com"), already normalized. It is safe for
// concurrent use.
func (h *Hasher) Hash(key string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

// ValidHash reports whether s is a lowercase hex SHA-256 sized hash, the
// only form the list holds.
func ValidHash(s string) bool { return graph.ValidKeyedHash(s) }

// CheckHash refuses a malformed hash. It never echoes the value.
//
// Errors: EINVALID.
func CheckHash(s string) error {
	if !ValidHash(s) {
		return graph.Errorf(graph.EINVALID, "suppression hash is not 64 lowercase hex digits (an HMAC-SHA256)")
	}
	return nil
}

// CheckHashes refuses hashes when any is malformed, naming its position.
//
// Errors: EINVALID.
func CheckHashes(hashes []string) error {
	for i, h := range hashes {
		if !ValidHash(h) {
			return graph.Errorf(graph.EINVALID, "suppression hash %d is not 64 lowercase hex digits (an HMAC-SHA256)", i)
		}
	}
	return nil
}

// Validate checks every field of s.
//
// Errors: EINVALID, naming the field.
func (s Suppression) Validate() error {
	switch {
	case !ValidHash(s.Hash):
		return graph.Errorf(graph.EINVALID, "suppression hash is not 64 lowercase hex digits (an HMAC-SHA256)")
	case s.At.IsZero():
		return graph.Errorf(graph.EINVALID, "suppression time is missing")
	case len(s.Reason) > MaxSuppressionReasonLen || !utf8.ValidString(s.Reason) ||
		strings.ContainsFunc(s.Reason, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return graph.Errorf(graph.EINVALID, "suppression reason must be at most %d bytes of printable UTF-8", MaxSuppressionReasonLen)
	}
	return nil
}

// CheckSuppressions validates a batch for Suppress and returns it with
// each hash once (its first entry) and times cleaned (graph.Clean): what a
// store writes.
//
// Errors: EINVALID, naming the entry's position.
func CheckSuppressions(entries []Suppression) ([]Suppression, error) {
	out := make([]Suppression, 0, len(entries))
	seen := make(map[string]bool, len(entries))
	for i, s := range entries {
		if err := s.Validate(); err != nil {
			return nil, graph.Errorf(graph.EINVALID, "suppression %d: %s", i, graph.ErrorMessage(err))
		}
		if seen[s.Hash] {
			continue
		}
		seen[s.Hash] = true
		s.At = graph.Clean(s.At)
		out = append(out, s)
	}
	return out, nil
}

// SuppressionList is a store's list with its Hasher: it works on identifier
// keys and hashes them itself. It is safe for concurrent use.
type SuppressionList struct {
	store  SuppressionStore
	hasher *Hasher
}

// OpenSuppressionList reads the store's secret (generating it on first
// use) and returns the list.
//
// Errors: the store's.
func OpenSuppressionList(ctx context.Context, s SuppressionStore) (*SuppressionList, error) {
	secret, err := s.SuppressionKey(ctx)
	if err != nil {
		return nil, err
	}
	h, err := NewHasher(secret)
	if err != nil {
		return nil, err
	}
	return &SuppressionList{store: s, hasher: h}, nil
}

// Hash is the list's Hasher.Hash.
func (l *SuppressionList) Hash(key string) string { return l.hasher.Hash(key) }

// Suppressed is the store's Suppressed.
func (l *SuppressionList) Suppressed(ctx context.Context, hashes []string) (map[string]bool, error) {
	return l.store.Suppressed(ctx, hashes)
}

// SuppressKeys adds the hashes of identifier keys (normalized graph keys)
// at at, with reason, and returns the hashes in the order of keys.
//
// Errors: as SuppressionStore.Suppress.
func (l *SuppressionList) SuppressKeys(ctx context.Context, keys []string, at time.Time, reason string) ([]string, error) {
	entries, hashes := l.Entries(keys, at, reason)
	return hashes, l.store.Suppress(ctx, entries)
}

// UnsuppressKey removes an identifier key from the list and reports
// whether it was on it.
func (l *SuppressionList) UnsuppressKey(ctx context.Context, key string) (bool, error) {
	return l.store.Unsuppress(ctx, l.hasher.Hash(key))
}

// KeySuppressed reports whether an identifier key is on the list.
func (l *SuppressionList) KeySuppressed(ctx context.Context, key string) (bool, error) {
	h := l.hasher.Hash(key)
	m, err := l.store.Suppressed(ctx, []string{h})
	return m[h], err
}

// TxSuppression is implemented by the graph.Tx of every store's write
// transaction: an erasure adds its hashes to the list in its own
// transaction, so an identifier is suppressed exactly when its erasure
// committed. Same rules as SuppressionStore.Suppress.
// Suppressed reads the list inside the transaction, so the collector
// checks a batch against every erasure committed before the batch's own
// transaction, with no gap between the check and the write.
type TxSuppression interface {
	Suppress(ctx context.Context, entries []Suppression) error
	Suppressed(ctx context.Context, hashes []string) (map[string]bool, error)
}

// TxUnsuppress is implemented by the graph.Tx of every store's write
// transaction: a suppression is lifted in the transaction that appends the
// audit entry of unsuppress, so neither commits without the other. Same
// rules as SuppressionStore.Unsuppress.
type TxUnsuppress interface {
	Unsuppress(ctx context.Context, hash string) (bool, error)
}

// UnsuppressInTx lifts the suppression of hash inside tx, a write
// transaction of a store, and reports whether it was on the list.
//
// Errors: those of SuppressionStore.Unsuppress; an internal error when
// tx's store does not implement TxUnsuppress.
func UnsuppressInTx(ctx context.Context, tx graph.Tx, hash string) (bool, error) {
	u, ok := tx.(TxUnsuppress)
	if !ok {
		return false, fmt.Errorf("privacy: the store's transaction %T cannot lift a suppression", tx)
	}
	return u.Unsuppress(ctx, hash)
}

// SuppressInTx adds entries to the list inside tx, a write transaction of
// a store.
//
// Errors: those of SuppressionStore.Suppress; an internal error when tx's
// store does not implement TxSuppression.
func SuppressInTx(ctx context.Context, tx graph.Tx, entries []Suppression) error {
	t, ok := tx.(TxSuppression)
	if !ok {
		return fmt.Errorf("privacy: the store's transaction %T cannot add to the suppression list", tx)
	}
	return t.Suppress(ctx, entries)
}

// SuppressedInTx returns the hashes among hashes on the list, read inside
// tx, as SuppressionStore.Suppressed does.
//
// Errors: those of SuppressionStore.Suppressed; an internal error when
// tx's store does not implement TxSuppression.
func SuppressedInTx(ctx context.Context, tx graph.Tx, hashes []string) (map[string]bool, error) {
	t, ok := tx.(TxSuppression)
	if !ok {
		return nil, fmt.Errorf("privacy: the store's transaction %T cannot read the suppression list", tx)
	}
	return t.Suppressed(ctx, hashes)
}

// SuppressedIn is SuppressedInTx: the list read inside tx.
func (l *SuppressionList) SuppressedIn(ctx context.Context, tx graph.Tx, hashes []string) (map[string]bool, error) {
	return SuppressedInTx(ctx, tx, hashes)
}

// Entries returns the list's entries for identifier keys at at with
// reason, and their hashes in the order of keys, ready for SuppressInTx.
func (l *SuppressionList) Entries(keys []string, at time.Time, reason string) ([]Suppression, []string) {
	hashes := make([]string, len(keys))
	entries := make([]Suppression, len(keys))
	for i, k := range keys {
		hashes[i] = l.hasher.Hash(k)
		entries[i] = Suppression{Hash: hashes[i], At: at, Reason: reason}
	}
	return entries, hashes
}
