package httpdrain

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// SlowPost is a test client on a slow uplink: it sends one POST over its
// own TCP connection, the body in 64 KiB pieces 100 ms apart (chunked when
// asked, else with Content-Length), and reads the answer only once the
// whole request is sent, as many clients do. An error writing or reading
// (a reset connection) is returned as is. hdr holds extra header lines;
// its Host, if any, replaces addr as the Host header.
func SlowPost(addr, path string, hdr map[string]string, body []byte, chunked bool) (status int, answer []byte, err error) {
	return SlowRequest(http.MethodPost, addr, path, hdr, body, chunked)
}

// SlowRequest is SlowPost with another method (PUT, DELETE...).
func SlowRequest(method, addr, path string, hdr map[string]string, body []byte, chunked bool) (status int, answer []byte, err error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	// A safety net against a hang, not a timing assertion.
	if err := conn.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		return 0, nil, err
	}
	host := addr
	if h, ok := hdr["Host"]; ok {
		host = h
	}
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host)
	for k, v := range hdr {
		if k != "Host" {
			head += k + ": " + v + "\r\n"
		}
	}
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
	}
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, nil, fmt.Errorf("writing the headers: %w", err)
	}
	const piece = 64 << 10
	for off := 0; off < len(body); off += piece {
		p := body[off:min(off+piece, len(body))]
		if chunked {
			_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", len(p), p)
		} else {
			_, err = conn.Write(p)
		}
		if err != nil {
			return 0, nil, fmt.Errorf("writing the body at byte %d: %w", off, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if chunked {
		if _, err := io.WriteString(conn, "0\r\n\r\n"); err != nil {
			return 0, nil, fmt.Errorf("writing the last chunk: %w", err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, data, fmt.Errorf("reading the %d answer's body: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, data, nil
}

// Together runs one(i) for i from 0 to n-1, each on its own goroutine (n
// slow clients at once), and returns their errors by i.
func Together(n int, one func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = one(i)
		}()
	}
	wg.Wait()
	return errs
}

// SlowAnswers sends n slow requests at once (SlowRequest, with
// Content-Length) and returns, by request, an error for each whose answer
// did not come back with status and a body holding text.
func SlowAnswers(n int, method, addr, path string, body []byte, status int, text string) []error {
	return Together(n, func(int) error {
		got, answer, err := SlowRequest(method, addr, path, nil, body, false)
		if err != nil {
			return err
		}
		if got != status || !bytes.Contains(answer, []byte(text)) {
			return fmt.Errorf("got %d %.200q, want %d %s", got, answer, status, text)
		}
		return nil
	})
}
