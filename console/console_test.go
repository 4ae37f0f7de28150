package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

func TestHandlerServesEmbeddedFiles(t *testing.T) {
	h := Handler(Options{})
	disk, err := os.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	w := get(t, h, "/console/app.js")
	if w.Code != 200 || w.Body.String() != string(disk) {
		t.Fatalf("app.js: status %d, %d bytes, want the %d bytes on disk", w.Code, w.Body.Len(), len(disk))
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("app.js Content-Type %q", ct)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q", csp)
	}
	index, _ := os.ReadFile("static/index.html")
	for _, p := range []string{"/console/", "/console/profile/x", "/console/audiences"} {
		if w := get(t, h, p); w.Code != 200 || w.Body.String() != string(index) {
			t.Errorf("%s: status %d, want index.html", p, w.Code)
		}
	}
	for _, p := range []string{"/console/vendor/nothing.js", "/console/missing.css"} {
		if w := get(t, h, p); w.Code != 404 {
			t.Errorf("%s: status %d, want 404", p, w.Code)
		}
	}
	// Revalidation: the ETag answers 304.
	etag := w.Header().Get("ETag")
	r := httptest.NewRequest(http.MethodGet, "/console/app.js", nil)
	r.Header.Set("If-None-Match", etag)
	w2 := httptest.NewRecorder()
	h.ServeHTTP(w2, r)
	if etag == "" || w2.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %q: status %d, want 304", etag, w2.Code)
	}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, `{"open":false,"graphiql":false}`},
		{Options{Open: func(context.Context) bool { return true }, GraphiQL: true}, `{"open":true,"graphiql":true}`},
		{Options{Open: func(context.Context) bool { return false }, GraphiQL: true}, `{"open":false,"graphiql":true}`},
	} {
		if w := get(t, Handler(c.o), "/console/mode.json"); w.Body.String() != c.want || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("mode.json: %s (Cache-Control %q), want %s", w.Body, w.Header().Get("Cache-Control"), c.want)
		}
	}
	w3 := httptest.NewRecorder()
	h.ServeHTTP(w3, httptest.NewRequest(http.MethodPost, "/console/", nil))
	if w3.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d", w3.Code)
	}
}

// Every script and style the console and GraphiQL load is served from this
// origin: no page names another host.
func TestNoThirdPartyURLs(t *testing.T) {
	g := get(t, GraphiQL("/graphql"), "/graphiql")
	if g.Code != 200 || !strings.Contains(g.Body.String(), `data-endpoint="/graphql"`) {
		t.Fatalf("GraphiQL page: status %d: %s", g.Code, g.Body)
	}
	src := regexp.MustCompile(`(?:src|href)="([^"]*)"`)
	pages := map[string]string{"graphiql": g.Body.String()}
	for _, f := range []string{"index.html", "app.js", "app.css", "graphiql.js"} {
		b, err := os.ReadFile("static/" + f)
		if err != nil {
			t.Fatal(err)
		}
		pages[f] = string(b)
	}
	for name, body := range pages {
		if strings.Contains(body, "https://") || strings.Contains(body, "http://") {
			t.Errorf("%s names a URL of another host", name)
		}
		for _, m := range src.FindAllStringSubmatch(body, -1) {
			u := m[1]
			if strings.HasPrefix(u, "//") || strings.Contains(u, "://") {
				t.Errorf("%s loads %s, on another host", name, u)
			}
			if strings.HasPrefix(u, "/console/") {
				if w := get(t, Handler(Options{}), u); w.Code != 200 {
					t.Errorf("%s loads %s, which answers %d", name, u, w.Code)
				}
			}
		}
	}
}
