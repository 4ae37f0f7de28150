package auth

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// OriginAllowed reports whether r's Origin header, if any, names the
// server's own host (r.Host) or matches one of patterns (--cors-origins):
// a host or host pattern such as app.example.com or *.example.com, an
// origin with its scheme such as https://app.example.com, or * for any.
// A request without Origin is not a browser's cross-origin request, and is
// allowed.
func OriginAllowed(r *http.Request, patterns []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok || p == "*" {
			return true
		}
	}
	return false
}
