package graph

import (
	"crypto/sha256"
	"encoding/base32"
	"strconv"
	"strings"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ProfileIDFor derives a profile id from the key that seeded the profile
// (and, for a split, the profile it came from). The same history therefore
// gives the same ids on every run and every store. attempt is raised only
// when the id is already taken.
func ProfileIDFor(seed string, attempt int) string {
	if attempt > 0 {
		seed += "#" + strconv.Itoa(attempt)
	}
	sum := sha256.Sum256([]byte(seed))
	return "p_" + strings.ToLower(idEncoding.EncodeToString(sum[:13]))
}
