package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
)

// An import the server stops part-way (here it refuses the second request
// with 401) says so: the summary counts the rows read but never sent, no
// file lists them, and running the same import again sends them, the rows
// stored before coming back as already present.
func TestImportSummaryWhenStopped(t *testing.T) {
	st := storetest.Embedded(t)
	base, _, _ := startApp(t, st, -1)
	target, err := url.Parse(base)
	storetest.Must(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var calls atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			http.Error(w, `{"success":false,"error":"write key not recognized"}`, http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	file := filepath.Join(t.TempDir(), "crm.csv")
	storetest.Must(t, os.WriteFile(file, []byte("id,email\n1,a@x.example\n2,b@x.example\n3,c@x.example\n4,d@x.example\n"), 0o600))
	args := []string{"import", "--source", "crm", "--map", "user_id=id", "--map", "email=email", "--batch", "2", "--concurrency", "1"}

	stdout, stderr, code := runCDP(t, nil, append(args, "--server", front.URL, file)...)
	if code != 2 || !strings.Contains(stdout, "read 4 rows: 2 stored, 0 already present, 0 rejected, 2 not sent or unanswered; run the same import again") ||
		strings.Contains(stdout, "imported") || !strings.Contains(stderr, "401") {
		t.Errorf("stopped import: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(file + ".rejects"); err == nil {
		t.Errorf("a rejects file was left although nothing was rejected")
	}
	stdout, stderr, code = runCDP(t, nil, append(args, "--server", base, file)...)
	if code != 0 || !strings.Contains(stdout, "imported 4 rows") || !strings.Contains(stdout, "2 stored, 2 already present, 0 rejected") {
		t.Errorf("import again: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// The rejects file holds personal data: an existing file given as
// --rejects is made private (0600) too, not written with its old mode.
func TestImportRejectsFileMadePrivate(t *testing.T) {
	st := storetest.Embedded(t)
	base, _, _ := startApp(t, st, -1)
	dir := t.TempDir()
	file, rejects := filepath.Join(dir, "crm.csv"), filepath.Join(dir, "out.rejects")
	storetest.Must(t, os.WriteFile(file, []byte("id,email\n1,a@x.example\n,\n"), 0o600))
	storetest.Must(t, os.WriteFile(rejects, []byte("old"), 0o644))
	storetest.Must(t, os.Chmod(rejects, 0o644)) // whatever the umask
	_, stderr, code := runCDP(t, nil, "import", "--source", "crm", "--map", "user_id=id", "--map", "email=email",
		"--rejects", rejects, "--server", base, file)
	if code != 1 {
		t.Fatalf("import with a rejected row: exit %d, %s", code, stderr)
	}
	fi, err := os.Stat(rejects)
	storetest.Must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("rejects file mode %v, want 0600", fi.Mode().Perm())
	}
}

// Opening the rejects file empties it, so --rejects naming the input file
// (by its path or through a link) is refused before anything is touched;
// and a configuration the import refuses (here no --map) leaves an earlier
// run's rejects file as it was.
func TestImportKeepsInputAndEarlierRejects(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "crm.csv")
	const content = "customer_id,Email\nc-1,ann@example.com\n"
	storetest.Must(t, os.WriteFile(in, []byte(content), 0o600))
	link := filepath.Join(dir, "link.csv")
	storetest.Must(t, os.Link(in, link))
	for _, rejects := range []string{in, link} {
		_, stderr, code := runCDP(t, nil, "import", "--server", "http://127.0.0.1:1", "--source", "crm",
			"--map", "user_id=customer_id", "--rejects", rejects, in)
		if got, err := os.ReadFile(in); err != nil || string(got) != content {
			t.Fatalf("--rejects %s: the input is now %q (%v); exit %d, %s", rejects, got, err, code, stderr)
		}
		if code != 2 || !strings.Contains(stderr, "is the input file") {
			t.Errorf("--rejects %s: exit %d, %q; want 2 naming the clash", rejects, code, stderr)
		}
	}
	earlier := in + ".rejects"
	storetest.Must(t, os.WriteFile(earlier, []byte("line 2: earlier\n"), 0o600))
	_, stderr, code := runCDP(t, nil, "import", "--server", "http://127.0.0.1:1", "--source", "crm", in)
	if code != 2 || !strings.Contains(stderr, "--map") {
		t.Errorf("no --map: exit %d, %q; want 2 asking for --map", code, stderr)
	}
	if got, err := os.ReadFile(earlier); err != nil || string(got) != "line 2: earlier\n" {
		t.Errorf("a refused configuration changed the earlier rejects file: %q, %v", got, err)
	}
}

// A mapping that names a column the CSV header lacks (a typo, a file
// without its header row) is refused once the header is read, before any
// row: like a refused configuration, it leaves an earlier run's rejects
// file as it was, and leaves none where there was none.
func TestImportRefusedAtTheHeaderKeepsEarlierRejects(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "crm.csv")
	storetest.Must(t, os.WriteFile(in, []byte("customer_id,Email\nc-1,ann@example.com\n"), 0o600))
	earlier := in + ".rejects"
	const kept = "line,reason,customer_id,Email\n2,event carries no usable identifier,,bob@\n"
	storetest.Must(t, os.WriteFile(earlier, []byte(kept), 0o600))
	for _, mapping := range []string{"user_id=customer", "email=E-mail"} {
		_, stderr, code := runCDP(t, nil, "import", "--server", "http://127.0.0.1:1", "--source", "crm",
			"--map", mapping, in)
		if code != 2 || !strings.Contains(stderr, "is not in the CSV header") {
			t.Errorf("--map %s: exit %d, %q; want 2 naming the missing column", mapping, code, stderr)
		}
		if got, err := os.ReadFile(earlier); err != nil || string(got) != kept {
			t.Errorf("--map %s: the earlier rejects file is now %q (%v); want it as it was", mapping, got, err)
		}
	}
	other := filepath.Join(dir, "none.rejects")
	_, _, code := runCDP(t, nil, "import", "--server", "http://127.0.0.1:1", "--source", "crm",
		"--map", "user_id=customer", "--rejects", other, in)
	if _, err := os.Stat(other); code != 2 || err == nil {
		t.Errorf("refused at the header with a new --rejects path: exit %d, and the file was left (%v)", code, err)
	}
}

// An import stopped by a row of the input that cannot be read (a quoted
// field that never closes) says so in its summary: running the same file
// again would stop there again, so it asks for the line to be fixed,
// rather than for the same import to be run again.
func TestImportSummaryWhenTheInputStops(t *testing.T) {
	st := storetest.Embedded(t)
	base, _, _ := startApp(t, st, -1)
	file := filepath.Join(t.TempDir(), "crm.csv")
	storetest.Must(t, os.WriteFile(file, []byte("id,email\n1,a@x.example\n2,\"b@x.example\n3,c@x.example\n"), 0o600))
	stdout, stderr, code := runCDP(t, nil, "import", "--source", "crm", "--map", "user_id=id", "--map", "email=email", "--server", base, file)
	if code != 2 || !strings.Contains(stdout, "stopped after") ||
		!strings.Contains(stdout, "the input cannot be read from line 3: read 1 rows: 1 stored, 0 already present, 0 rejected, 0 not sent or unanswered; fix the file there and run the same import again") ||
		strings.Contains(stdout, "to send them") || !strings.Contains(stderr, "opens on line 3 is never closed") {
		t.Errorf("import stopped by its input: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
