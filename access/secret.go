package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/idgraph/cdp/graph"
)

// SecretPrefix starts every key secret.
const SecretPrefix = "cdp_"

// secretBytes is the entropy of a secret.
const secretBytes = 32

// SecretLen is the length of a secret: the prefix and 32 bytes in unpadded
// base64url (43 characters).
var SecretLen = len(SecretPrefix) + base64.RawURLEncoding.EncodedLen(secretBytes)

// NewSecret returns a new key secret: "cdp_" and 32 random bytes in
// unpadded base64url. It is shown once; only HashSecret of it is stored.
func NewSecret() string {
	var b [secretBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// CheckSecret reports whether s has the shape of a secret, without touching
// any store: a request carrying anything else is refused before a lookup.
// It never echoes s.
//
// Errors: EINVALID.
func CheckSecret(s string) error {
	if len(s) != SecretLen || !strings.HasPrefix(s, SecretPrefix) {
		return graph.Errorf(graph.EINVALID, "malformed API key: a key is %q followed by %d base64url characters", SecretPrefix, SecretLen-len(SecretPrefix))
	}
	// Strict refuses the non-canonical spellings of the last character, so
	// one secret has exactly one text.
	if _, err := base64.RawURLEncoding.Strict().DecodeString(s[len(SecretPrefix):]); err != nil {
		return graph.Errorf(graph.EINVALID, "malformed API key: not base64url after %q", SecretPrefix)
	}
	return nil
}

// HashSecret returns the hex SHA-256 of secret, the form a store keeps and
// looks keys up by.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// SecretMatches reports whether secret hashes to hash, in time that does not
// depend on where they differ.
func SecretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(hash)) == 1
}

// validHash reports whether h is a lowercase hex SHA-256.
func validHash(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(h) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// randomID returns prefix and 16 random bytes in lowercase hex.
func randomID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
