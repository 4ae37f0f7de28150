// Package redact shows in messages and logs what a caller or an operator
// wrote that may hold what must not be shown: URLs that may hold
// credentials, HTTP methods that may be any token.
package redact

import (
	"net/url"
	"strings"
)

// URI returns uri for messages and logs: a password written into it is
// shown as xxxxx, and of text that cannot be read as a URL (a password
// with a stray %, say) none of the user information is shown. Nor is it
// of a URL read with no user information that holds a colon before an @
// after its host: that is user information with a #, / or ? not
// percent-encoded ("bolt://neo4j:2024#pw@db"), which ends the host there,
// so the URL reads as one with no user information and the rest of it in
// its fragment, path or query. (A colon and an @ in the path of a URL, or
// a port and an @ in its path, which could be no password, are hidden
// too: the safer error.)
func URI(uri string) string {
	u, err := url.Parse(uri)
	at := strings.LastIndex(uri, "@")
	switch {
	case err == nil && u.User != nil:
		return u.Redacted()
	case at < 0:
		return uri
	case err == nil && u.Opaque == "" && CutUserInfo(uri):
	case err == nil && !strings.Contains(u.Opaque, "@"):
		// An @ in a path or query: no user information.
		return uri
	}
	// Not a URL, or one without "//" ("user:pw@host" reads as scheme
	// "user"): everything before the last @ may be a password.
	if i := strings.Index(uri, "://"); i >= 0 && i < at {
		return uri[:i+3] + "xxxxx" + uri[at:]
	}
	return "xxxxx" + uri[at:]
}

// CutUserInfo reports whether uri holds a colon between its "://" and its
// last @: for a URL read with no user information, user information cut
// short by a character a password (or a user name) must percent-encode,
// its colon in the host (as a port) or after it.
func CutUserInfo(uri string) bool {
	i := strings.Index(uri, "://")
	if i < 0 {
		return false
	}
	rest := uri[i+3:]
	at := strings.LastIndex(rest, "@")
	return at >= 0 && strings.Contains(rest[:at], ":")
}
