package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/idgraph/cdp/internal/httpdrain"
)

//go:embed static
var files embed.FS

// Prefix is where the console is mounted.
const Prefix = "/console/"

// csp keeps the console to its own origin: no script, style, font or
// connection reaches a third party. Inline styles are allowed because
// GraphiQL and cytoscape.js set them from script; inline scripts are not.
const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; " +
	"worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

type asset struct {
	body    []byte
	ctype   string
	etag    string
	noStore bool // Cache-Control: no-store instead of no-cache
}

var assets = load()

func load() map[string]asset {
	m := map[string]asset{}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		m[strings.TrimPrefix(p, "static/")] = asset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		panic("console: reading embedded files: " + err.Error())
	}
	return m
}

// Options tell the console how the server it is served by is set up.
type Options struct {
	// Open, when not nil, says whether the server is in open mode (no key
	// needed), so that the console asks for a key only where one is needed
	// without first sending a request that fails. It tells nothing a
	// request without a key would not.
	Open func(context.Context) bool
	// GraphiQL says whether /graphiql is served, so the console links it
	// only then.
	GraphiQL bool
}

// Handler serves the console's files under Prefix, and the options at
// Prefix + "mode.json"; any path that is not a file answers index.html, so
// the console's own paths and a reload land on the app.
func Handler(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// The rest of the body is read first, as for every 404 and 405
			// of the endpoints: a client still sending would otherwise see
			// its connection reset rather than the answer.
			httpdrain.Body(w, r)
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "mode.json" {
			open := o.Open != nil && o.Open(r.Context())
			body := []byte(fmt.Sprintf(`{"open":%t,"graphiql":%t}`, open, o.GraphiQL))
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			_, _ = w.Write(body)
			return
		}
		a, ok := assets[name]
		if !ok || name == "" || strings.HasSuffix(name, "/") {
			if strings.HasPrefix(name, "vendor/") || path.Ext(name) != "" {
				httpdrain.Body(w, r)
				http.NotFound(w, r)
				return
			}
			a = assets["index.html"]
		}
		serve(w, r, a)
	})
}

func serve(w http.ResponseWriter, r *http.Request, a asset) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// Revalidated on every load, so a new binary's files are used at once.
	h.Set("Cache-Control", "no-cache")
	if a.noStore {
		h.Set("Cache-Control", "no-store")
	}
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, "", zeroTime, bytes.NewReader(a.body))
}

var graphiqlPage = template.Must(template.New("graphiql").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Identity graph GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/vendor/graphiql.min.css">
<link rel="stylesheet" href="/console/graphiql.css">
</head>
<body>
<div id="graphiql" data-endpoint="{{.}}">Loading GraphiQL…</div>
<script src="/console/vendor/react.production.min.js"></script>
<script src="/console/vendor/react-dom.production.min.js"></script>
<script src="/console/vendor/graphiql.min.js"></script>
<script src="/console/graphiql.js"></script>
</body>
</html>
`))

// GraphiQL returns the GraphiQL page for the endpoint. Its scripts and
// styles are the embedded ones under Prefix, so the page works offline and
// tells no third party it was opened; the console must be mounted too.
func GraphiQL(endpoint string) http.Handler {
	var b bytes.Buffer
	if err := graphiqlPage.Execute(&b, endpoint); err != nil {
		panic("console: GraphiQL page: " + err.Error())
	}
	sum := sha256.Sum256(b.Bytes())
	a := asset{body: b.Bytes(), ctype: "text/html; charset=utf-8", etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	// The page puts the console's key in its headers editor: a browser
	// must not keep it for back and forward past a sign-out (the page
	// checks too, graphiql.js).
	a.noStore = true
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serve(w, r, a) })
}

var zeroTime = time.Time{}
