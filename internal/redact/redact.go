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
// with a stray %, say) none of the user information is shown.
func URI(uri string) string {
	u, err := url.Parse(uri)
	at := strings.LastIndex(uri, "@")
	switch {
	case err == nil && u.User != nil:
		return u.Redacted()
	case at < 0:
		return uri
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
