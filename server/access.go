package server

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/internal/redact"
)

// Logged wraps h, a handler that answers outside the service (cdp serve's
// answers while it waits for its store), as the service's middleware
// wraps its own: every response carries an X-Request-Id (a sane one sent
// is kept) and X-Content-Type-Options: nosniff, and every request is
// logged once on log with its id, method, route (never the path, which
// can hold personal data), status, size and duration.
func Logged(log zerolog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := answerHeaders(w, r)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			log.Info().
				Str("request_id", rid).
				Str("method", redact.Method(r.Method)).
				Str("path", route(r)).
				Int("status", sw.status).
				Int("bytes", sw.bytes).
				Dur("duration", time.Since(start)).
				Msg("request")
		}()
		h.ServeHTTP(sw, r)
	})
}
