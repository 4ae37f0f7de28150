package graph

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Retired profile ids.
//
// A profile id is derived from the identifier that seeded the profile
// (ProfileIDFor), so an identifier that seeds a profile again would get
// the same id back once no profile holds it. A deleted profile's id (an
// erased person's, or one a correction emptied) is therefore retired, not
// freed: the store keeps, in the transaction that deletes the profile, a
// keyed hash of the id (Write.RetireProfiles), and a new profile never
// takes an id that is stored or retired (ReadTx.TakenProfileIDs). A front
// end or a downstream system that kept an erased person's id never finds
// someone else behind it.
//
// The plain id is not kept: it is an unkeyed hash of an identifier, and a
// list of them would let anyone confirm that a guessed email belonged to
// an erased person. The hash is keyed by the store's secret, the one that
// keys the suppression list (privacy.SuppressionStore's SuppressionKey),
// and the hashed text starts with retiredIDDomain, so that no retired
// hash can equal the suppression hash of an identifier (whose key starts
// with a type, which holds no space).

// retiredIDDomain starts the text RetiredIDHash hashes.
const retiredIDDomain = "retired profile id:"

// RetiredIDHash returns the keyed hash a store keeps of the deleted profile
// id: the lowercase hex HMAC-SHA256 of "retired profile id:" + id under
// secret.
func RetiredIDHash(secret []byte, id string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(retiredIDDomain))
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}

// ValidKeyedHash reports whether h has the form of a RetiredIDHash or of a
// suppression hash: an HMAC-SHA256 in 64 lowercase hex digits.
func ValidKeyedHash(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(h) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// SecretKeeper is the optional Store method that gives the engine the
// secret keying retired profile ids: privacy.SuppressionStore's
// SuppressionKey, which both stores implement. It returns the same bytes
// on every call. A Store that wraps another should implement it with the
// one it wraps: over a store without it the engine retires no id, and a
// deleted profile's id is free again.
type SecretKeeper interface {
	SuppressionKey(ctx context.Context) ([]byte, error)
}

// minSecretLen bounds the secret from below: a short one would make the
// hashes guessable.
const minSecretLen = 16

// ProfileIDCandidate is an id ReadTx.TakenProfileIDs asks about, with its
// RetiredIDHash ("" when the store keeps no secret: only a stored profile
// then takes the id).
type ProfileIDCandidate struct {
	ID   string
	Hash string
}

// retirer hashes profile ids under the store's secret; the zero retirer
// (a store that keeps none) hashes nothing.
type retirer struct{ secret []byte }

func (r retirer) hash(id string) string {
	if r.secret == nil {
		return ""
	}
	return RetiredIDHash(r.secret, id)
}

// retire adds to w the hashes of the profiles it deletes.
func (r retirer) retire(w *Write) {
	if r.secret == nil {
		return
	}
	seen := map[string]bool{}
	for _, id := range w.DeleteProfiles {
		if h := r.hash(id); !seen[h] {
			seen[h] = true
			w.RetireProfiles = append(w.RetireProfiles, h)
		}
	}
}

// retirer returns the retirer of the store's secret, read on the first
// call and kept (the secret never changes). It must be called outside any
// transaction: the store may write the secret on its first call, and
// bbolt cannot open a transaction inside another.
func (e *Engine) retirer(ctx context.Context) (retirer, error) {
	e.secretMu.Lock()
	defer e.secretMu.Unlock()
	if e.secretRead {
		return retirer{e.secret}, nil
	}
	k, ok := e.store.(SecretKeeper)
	if !ok {
		e.secretRead = true
		return retirer{}, nil
	}
	secret, err := k.SuppressionKey(ctx)
	if err != nil {
		return retirer{}, fmt.Errorf("read the secret of retired profile ids: %w", err)
	}
	if len(secret) < minSecretLen {
		return retirer{}, fmt.Errorf("the store's secret of retired profile ids is %d bytes, want at least %d", len(secret), minSecretLen)
	}
	e.secret, e.secretRead = append([]byte(nil), secret...), true
	return retirer{e.secret}, nil
}
