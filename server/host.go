package server

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/internal/httpdrain"
)

// Loopback reports whether ln listens on a loopback address only
// (127.0.0.0/8 or ::1).
func Loopback(ln net.Listener) bool {
	if ln == nil {
		return false
	}
	addr, ok := ln.Addr().(*net.TCPAddr)
	return ok && addr.IP.IsLoopback()
}

// loopbackOnly reports whether the server listens on a loopback address
// only. A server with no listener (tests building the handler alone) is
// not checked.
func (s *Server) loopbackOnly() bool { return Loopback(s.ln) }

// hostCheck answers 421 Misdirected Request, in open loopback mode, to any
// request whose Host is not localhost, 127.0.0.1 or [::1] (with any port).
// An open server bound to loopback trusts the machine it runs on; without
// the check, a web page could reach it through a domain that resolves to
// 127.0.0.1 (DNS rebinding) and read or change its data from the victim's
// browser. Once keys are enforced a page cannot hold one, so the check is
// off and a loopback server behind a proxy answers any Host.
func (s *Server) hostCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) && (s.cfg.Guard == nil || s.cfg.Guard.Open(r.Context())) {
			misdirected(w, r, "this server listens on loopback with no API key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// metricsHostCheck is hostCheck for a loopback metrics listener
// (--metrics-addr), which never takes a key: it always answers only a
// local Host, or a rebinding page could read the metrics.
func metricsHostCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			misdirected(w, r, "this metrics listener is on loopback, where no key is asked")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// misdirected answers 421 once what is left of r's body is read (within
// httpdrain's bounds), as every refusal decided from the headers is: a
// client still sending would otherwise see a reset connection.
func misdirected(w http.ResponseWriter, r *http.Request, why string) {
	httpdrain.Body(w, r)
	writeJSON(w, http.StatusMisdirectedRequest, map[string]any{
		"success": false,
		"error": "Host " + clip(r.Host) + " is not served: " + why + " and answers only " +
			"Host localhost, 127.0.0.1 or [::1] (any port), which stops DNS rebinding",
	})
}

// openOrigins answers 403, while no API key is enforced (open mode), to a
// request that can change something (any method but GET, HEAD and OPTIONS)
// sent by a web page of another origin than the server's own or those of
// Config.Origins. Open mode trusts the callers on this machine, and a
// page the operator's browser opens is on this machine: without the check
// any site could post events and consent to the collector (it allows any
// origin, as a Segment collector must) or start a backup download, with a
// simple cross-origin request that no preflight stops. Once keys are
// enforced the key is what is checked, and a page with a write key posts
// from anywhere; so it does to a collector with static write keys.
func (s *Server) openOrigins(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions:
		case s.cfg.CollectorKeyed && strings.HasPrefix(r.URL.Path, "/v1/"):
		default:
			if !auth.OriginAllowed(r, s.cfg.Origins) && (s.cfg.Guard == nil || s.cfg.Guard.Open(r.Context())) {
				httpdrain.Body(w, r) // as misdirected does
				writeJSON(w, http.StatusForbidden, map[string]any{
					"success": false,
					"error": "Origin " + clip(r.Header.Get("Origin")) + " may not send this request: with no API key the server " +
						"takes changes only from its own pages and the origins of --cors-origins; create an API key to take " +
						"them from any page that holds one",
				})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names the local machine:
// localhost, 127.0.0.1 or [::1], optionally with a port.
// LoopbackHost reports whether a Host header names this machine:
// localhost, 127.0.0.1 or [::1], with any port.
func LoopbackHost(h string) bool { return loopbackHost(h) }

func loopbackHost(h string) bool {
	var host, rest string
	bracketed := strings.HasPrefix(h, "[")
	if bracketed {
		i := strings.IndexByte(h, ']')
		if i < 0 {
			return false
		}
		host, rest = h[1:i], h[i+1:]
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, rest = h[:i], h[i:]
	} else {
		host = h
	}
	if rest != "" {
		port := rest[1:]
		if rest[0] != ':' || port == "" || len(port) > 5 || strings.IndexFunc(port, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			return false
		}
	}
	if bracketed {
		return host == "::1"
	}
	host = strings.ToLower(host)
	return host == "localhost" || host == "127.0.0.1"
}

// clip quotes at most 40 bytes of a Host for an error message.
func clip(h string) string {
	const n = 40
	if len(h) <= n {
		return strconv.Quote(h)
	}
	return strconv.Quote(strings.ToValidUTF8(h[:n], "")) + "…"
}
