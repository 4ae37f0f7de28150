package graph

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strconv"
	"strings"
)

// MemberDigest is how history records an identifier a merged profile held:
// the first 16 hex digits of the SHA-256 of its key, enough to tell members
// apart when a split gives ids back, and no personal value in history.
func MemberDigest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// KeyRef names an identifier in an error or a log line without its value:
// its type and its MemberDigest ("email 3f2a9c1b04d7e6a5"), which matches
// the digests history records.
func KeyRef(key string) string {
	return SplitKey(key).Type + " " + MemberDigest(key)
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ProfileIDFor derives a profile id from the key that seeded the profile
// (and, for a split, the profile it came from). The same history therefore
// gives the same ids on every run and every store. attempt is raised only
// when the id is already taken. The attempt is written after a "#"; a
// seed that itself ends in "#" and digits (a value such as "acct#1") gets
// "#0" at attempt 0, so that no seed's attempt 0 is another seed's later
// attempt ("x#1" and the second attempt of "x"), which would make the ids
// of both depend on which was named first.
func ProfileIDFor(seed string, attempt int) string {
	if attempt > 0 {
		seed += "#" + strconv.Itoa(attempt)
	} else if endsInAttempt(seed) {
		seed += "#0"
	}
	sum := sha256.Sum256([]byte(seed))
	return "p_" + strings.ToLower(idEncoding.EncodeToString(sum[:13]))
}

// endsInAttempt reports whether s ends in "#" and one or more digits.
func endsInAttempt(s string) bool {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	return i < len(s) && i > 0 && s[i-1] == '#'
}

// MaxProfileIDBytes bounds a profile id taken from a caller.
const MaxProfileIDBytes = 64

// ProfileIDShape reports whether id has the shape of a profile id: "p_"
// followed by lowercase letters and digits, at most MaxProfileIDBytes in
// all. ProfileIDFor's ids have it. A value of another shape (an email
// pasted where an id belongs) is refused as malformed, without repeating
// it, rather than looked up and named in a "not found".
func ProfileIDShape(id string) bool {
	if len(id) <= 2 || len(id) > MaxProfileIDBytes || !strings.HasPrefix(id, "p_") {
		return false
	}
	for _, c := range id[2:] {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ProfileRef names a profile id a caller gave, in a message: quoted when it
// has a profile id's shape (ProfileIDShape), else as "(not a profile id)",
// so that a value pasted where an id belongs (an email, say) is never
// repeated.
func ProfileRef(id string) string {
	if ProfileIDShape(id) {
		return strconv.Quote(id)
	}
	return "(not a profile id)"
}
