package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

const healthHelp = `
Asks a running server whether it is ready: GET --url, exit 0 on a 2xx answer
and 1 otherwise, with one line saying why. Meant for container healthchecks
where the image has no shell or curl (the project's image is distroless):
  healthcheck: {test: ["CMD", "/cdp", "health"]}`

func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var target string
	var timeout time.Duration
	fs := newFlagSet("health", stderr, healthHelp)
	fs.str(&target, "url", "CDP_HEALTH_URL", "http://127.0.0.1:8080/readyz", "the endpoint to ask (/readyz: the store answers; /healthz: the process runs)")
	fs.duration(&timeout, "timeout", "CDP_HEALTH_TIMEOUT", 3*time.Second, "how long to wait for the answer")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--url must be an http or https URL, got %q", shownURL(target))
	}
	if timeout <= 0 {
		return usagef("--timeout must be positive, got %s", timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return usagef("--url %q: %v", shownURL(u.String()), unwrapURLError(err))
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		// The client's error names the URL again, with a password shown
		// as ***: only its cause is kept, so the password reads xxxxx as
		// in every message of cdp.
		return fmt.Errorf("%s: no answer: %w", shownURL(u.String()), unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", shownURL(u.String()), resp.Status)
	}
	fmt.Fprintf(stdout, "%s: %s\n", shownURL(u.String()), resp.Status)
	return nil
}
