package httpdrain

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// countingReader counts what was read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestBodyDrainsWithinTheByteBound(t *testing.T) {
	for _, c := range []struct {
		size      int
		wantRead  int
		wantClose bool
	}{
		{0, 0, false},
		{1 << 20, 1 << 20, false},
		{MaxBytes, MaxBytes, false},
		{MaxBytes + 1<<20, MaxBytes + 1, true},
	} {
		body := &countingReader{r: bytes.NewReader(make([]byte, c.size))}
		req := httptest.NewRequest(http.MethodPost, "/", body)
		rec := httptest.NewRecorder()
		Body(rec, req)
		if body.n != c.wantRead {
			t.Errorf("%d-byte body: read %d bytes, want %d", c.size, body.n, c.wantRead)
		}
		if got := rec.Header().Get("Connection") == "close"; got != c.wantClose {
			t.Errorf("%d-byte body: Connection: close is %v, want %v", c.size, got, c.wantClose)
		}
	}
}
