// Package httpdrain reads what is left of a refused request's body, so that
// the refusal reaches the client instead of a reset connection.
//
// A server that answers before reading the whole body (a 413 for a body
// over the limit, a 401 decided from the headers) and then closes the
// connection with request data still unread makes the kernel reset the
// connection. The client, often still sending, loses the answer sitting in
// its receive buffer and sees "connection reset" instead.
package httpdrain

import (
	"io"
	"net/http"
	"time"
)

// Bounds on draining one body: whichever comes first ends the drain.
const (
	MaxBytes = 8 << 20
	MaxTime  = 10 * time.Second
)

// Body reads and discards what is left of r's body, up to MaxBytes or for
// MaxTime, whichever comes first. Call it before writing a refusal. When
// the body ends within the bound the connection stays usable; otherwise
// the answer carries Connection: close, and the server closes the
// connection after answering.
func Body(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	// A ResponseWriter without deadlines (a recorder) has the byte bound only.
	deadline := rc.SetReadDeadline(time.Now().Add(MaxTime)) == nil
	n, err := io.CopyN(io.Discard, r.Body, MaxBytes+1)
	if deadline {
		// No deadline from here on; the server sets its own for the next
		// request on the connection.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if n > MaxBytes || (err != nil && err != io.EOF) {
		w.Header().Set("Connection", "close")
	}
}
