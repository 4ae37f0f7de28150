package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// post sends one Segment message and reports the status.
func post(base, writeKey, typ, msg string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/"+typ, strings.NewReader(msg))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(writeKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// writer sends identify wN-0, wN-1, ... (N is name) one at a time, each
// after the previous one was acknowledged (a refusal is sent again: the
// message id makes it count once), until stop is closed. acked counts the
// acknowledged ones.
func writer(base, writeKey, name string, acked *atomic.Int64, stop <-chan struct{}, done chan<- error) {
	for i := 0; ; {
		select {
		case <-stop:
			done <- nil
			return
		default:
		}
		msg := fmt.Sprintf(`{"userId":"%s-%d","messageId":"%s-%d","timestamp":"2026-02-01T10:00:00Z","traits":{"email":"%s-%d@example.com"}}`, name, i, name, i, name, i)
		code, err := post(base, writeKey, "identify", msg)
		switch {
		case err != nil:
			done <- err
			return
		case code == http.StatusOK:
			i++
			acked.Store(int64(i))
		case code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests:
			time.Sleep(10 * time.Millisecond)
		default:
			done <- fmt.Errorf("identify %s-%d: %d", name, i, code)
			return
		}
	}
}

// present reads which of keys and event ids the store holds, and the
// profile id of each identifier.
func present(t *testing.T, st graph.Store, keys, events []string) (map[string]graph.Identifier, map[string]graph.Event, int) {
	t.Helper()
	var idents map[string]graph.Identifier
	var evs map[string]graph.Event
	var profiles int
	err := st.View(context.Background(), func(ctx context.Context, tx graph.ReadTx) error {
		var err error
		if idents, err = tx.Identifiers(ctx, keys); err != nil {
			return err
		}
		if evs, err = tx.Events(ctx, events); err != nil {
			return err
		}
		profiles, err = tx.CountProfiles(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return idents, evs, profiles
}

// cdp backup of a server on the embedded store while events keep coming,
// then cdp restore into a new folder: the restored store holds everything
// written before the backup began (200 people with a user id and an
// email, 50 of them with an anonymous id: 450 identifiers, 250 events,
// 200 profiles, 3 API keys) and, of the events that kept coming, exactly
// those of some moment: of each of three writers, the first E of its
// sequence, each whole (its event, both identifiers, in one profile), at
// least those acknowledged before the backup began and at most one more
// than those acknowledged by its end. Refusals exit 1 and leave no file: without a key, without
// keys:admin, an existing --out; restore into a non-empty folder, over a
// store a server holds, or of a damaged file. On Neo4j, cdp backup exits
// 1 pointing to neo4j-admin.
func TestBackupAndRestoreCommands(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		web := newTestKey(t, st, "site", "web", "events:write")
		admin := newTestKey(t, st, "ops", "", access.ScopeNames(access.AllScopes())...)
		reader := newTestKey(t, st, "analyst", "", "profiles:read", "pii:read")
		base, _, stop := startApp(t, st, -1)
		outDir := t.TempDir()
		out := filepath.Join(outDir, "cdp-backup.db")
		noFile := func(t *testing.T) {
			t.Helper()
			if names := dirNames(t, outDir); len(names) != 0 {
				t.Errorf("a refused backup left %v", names)
			}
		}

		if _, ok := st.(*embedded.Store); !ok {
			_, stderr, code := runCDP(t, nil, "backup", "--server", base, "--key", admin, "--out", out)
			if code != 1 || !strings.Contains(stderr, "501") || !strings.Contains(stderr, "neo4j-admin database dump") {
				t.Errorf("cdp backup of a Neo4j server: exit %d, %q; want 1 and a pointer to neo4j-admin database dump", code, stderr)
			}
			noFile(t)
			return
		}

		for _, tc := range []struct {
			name, key, want string
		}{
			{"no key", "", "401"},
			{"a key without keys:admin", reader, "403 FORBIDDEN"},
		} {
			_, stderr, code := runCDP(t, nil, "backup", "--server", base, "--key", tc.key, "--out", out)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("cdp backup with %s: exit %d, %q; want 1 and %q", tc.name, code, stderr, tc.want)
			}
			if tc.key != "" && strings.Contains(stderr, tc.key) {
				t.Errorf("cdp backup echoed the key: %q", stderr)
			}
			noFile(t)
		}

		var keys, events []string
		for i := range 200 {
			collect(t, base, web, "identify", fmt.Sprintf(`{"userId":"u-%d","messageId":"id-%d","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"u%d@example.com"}}`, i, i, i))
			keys = append(keys, fmt.Sprintf("user_id:u-%d", i), fmt.Sprintf("email:u%d@example.com", i))
			events = append(events, fmt.Sprintf("web/id-%d", i))
		}
		for i := range 50 {
			collect(t, base, web, "track", fmt.Sprintf(`{"userId":"u-%d","anonymousId":"a-%d","event":"Viewed","messageId":"t-%d","timestamp":"2026-01-02T10:00:00Z"}`, i, i, i))
			keys = append(keys, fmt.Sprintf("anonymous_id:a-%d", i))
			events = append(events, fmt.Sprintf("web/t-%d", i))
		}

		// The writers run before, during and after the backup.
		const writers = 3
		var acked [writers]atomic.Int64
		stopWriters, writerDone := make(chan struct{}), make(chan error, writers)
		for k := range writers {
			go writer(base, web, fmt.Sprintf("w%d", k), &acked[k], stopWriters, writerDone)
		}
		for k := range writers {
			for acked[k].Load() < 10 {
				select {
				case err := <-writerDone:
					t.Fatalf("a writer stopped: %v", err)
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		var before, after, total [writers]int64
		for k := range writers {
			before[k] = acked[k].Load()
		}
		stdout, stderr, code := runCDP(t, nil, "backup", "--server", base, "--key", admin, "--out", out)
		for k := range writers {
			after[k] = acked[k].Load()
		}
		close(stopWriters)
		for range writers {
			if err := <-writerDone; err != nil {
				t.Fatal(err)
			}
		}
		for k := range writers {
			total[k] = acked[k].Load()
		}
		if code != 0 || !strings.Contains(stdout, "backup written to "+out) || !strings.Contains(stdout, "sha256 ") {
			t.Fatalf("cdp backup: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		if names := dirNames(t, outDir); len(names) != 1 || names[0] != "cdp-backup.db" {
			t.Errorf("the backup left %v beside it", names)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("backup file mode: %v, %v; want 0600", fi, err)
		}
		t.Logf("writers: %v acknowledged before the backup, %v by its end, %v in all", before, after, total)

		// An existing --out is kept unless --force.
		_, stderr, code = runCDP(t, nil, "backup", "--server", base, "--key", admin, "--out", out)
		if code != 1 || !strings.Contains(stderr, "already exists") || !strings.Contains(stderr, "--force") {
			t.Errorf("cdp backup over an existing file: exit %d, %q", code, stderr)
		}

		// Restore over the store the server holds: refused.
		liveDir := filepath.Dir(st.(*embedded.Store).Path())
		_, stderr, code = runCDP(t, nil, "restore", "--force", "--data-dir", liveDir, out)
		if code != 1 || !strings.Contains(stderr, "in use") || !strings.Contains(stderr, "stop the server") {
			t.Errorf("cdp restore --force over a running server's store: exit %d, %q", code, stderr)
		}
		// A backup written over the running server's own file: refused,
		// and the file is left as it was (the server would go on writing
		// to the replaced one, and lose it all at its next start).
		live := st.(*embedded.Store).Path()
		liveBefore, err := os.Stat(live)
		storetest.Must(t, err)
		_, stderr, code = runCDP(t, nil, "backup", "--force", "--server", base, "--key", admin, "--out", live)
		if code != 1 || !strings.Contains(stderr, "is not replaced") || !strings.Contains(stderr, "running store") {
			t.Errorf("cdp backup --force over the running server's store file: exit %d, %q", code, stderr)
		}
		if liveAfter, err := os.Stat(live); err != nil || !os.SameFile(liveBefore, liveAfter) {
			t.Errorf("cdp backup --force replaced the running server's store file (%v)", err)
		}
		if names := dirNames(t, liveDir); slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, ".part") }) {
			t.Errorf("the refused backup left %v in the data dir", names)
		}
		// The same refusal when the file is taken as the download ends.
		tmp := filepath.Join(outDir, "download.part")
		storetest.Must(t, os.WriteFile(tmp, []byte("x"), 0o600))
		if err := place(tmp, live, true); err == nil || !errors.Is(err, embedded.ErrInUse) {
			t.Errorf("place over the running server's store file: %v, want ErrInUse", err)
		}
		if liveAfter, err := os.Stat(live); err != nil || !os.SameFile(liveBefore, liveAfter) {
			t.Errorf("place replaced the running server's store file (%v)", err)
		}
		storetest.Must(t, os.Remove(tmp))
		stop()

		restored := filepath.Join(t.TempDir(), "restored")
		stdout, stderr, code = runCDP(t, nil, "restore", "--data-dir", restored, out)
		if code != 0 || !strings.Contains(stdout, "restored "+out) {
			t.Fatalf("cdp restore: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}

		// Damaged files and a non-empty folder: refused, nothing changed.
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		bad := t.TempDir()
		cut := filepath.Join(bad, "cut.db")
		text := filepath.Join(bad, "text.db")
		if err := os.WriteFile(cut, b[:len(b)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(text, []byte(strings.Repeat("profile_id,email\n", 1000)), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ file, want string }{
			{cut, "is cut short"}, {text, "is not a database file of this store"},
		} {
			empty := filepath.Join(t.TempDir(), "empty")
			_, stderr, code := runCDP(t, nil, "restore", "--data-dir", empty, tc.file)
			if code != 1 || !strings.Contains(stderr, tc.file) || !strings.Contains(stderr, tc.want) {
				t.Errorf("cdp restore %s: exit %d, %q; want 1 and %q", filepath.Base(tc.file), code, stderr, tc.want)
			}
			// The folder it created goes again.
			if _, err := os.Stat(empty); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused restore left %s behind (%v)", empty, err)
			}
		}
		stored, err := os.ReadFile(filepath.Join(restored, embedded.FileName))
		if err != nil {
			t.Fatal(err)
		}
		_, stderr, code = runCDP(t, nil, "restore", "--data-dir", restored, text)
		if code != 1 || !strings.Contains(stderr, "is not empty") || !strings.Contains(stderr, "--force") {
			t.Errorf("cdp restore into a folder holding a store: exit %d, %q", code, stderr)
		}
		if again, err := os.ReadFile(filepath.Join(restored, embedded.FileName)); err != nil || string(again) != string(stored) {
			t.Errorf("a refused restore changed the store (%v)", err)
		}

		// The restored store.
		rs, err := embedded.Open(restored)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close(context.Background())
		var wKeys, wEvents []string
		for k := range writers {
			for i := range total[k] {
				wKeys = append(wKeys, fmt.Sprintf("user_id:w%d-%d", k, i), fmt.Sprintf("email:w%d-%d@example.com", k, i))
				wEvents = append(wEvents, fmt.Sprintf("web/w%d-%d", k, i))
			}
		}
		idents, evs, profiles := present(t, rs, append(keys, wKeys...), append(events, wEvents...))
		for _, k := range keys {
			if _, ok := idents[k]; !ok {
				t.Errorf("the restored store lacks %s, written before the backup", k)
			}
		}
		for _, id := range events {
			if _, ok := evs[id]; !ok {
				t.Errorf("the restored store lacks event %s, written before the backup", id)
			}
		}
		for i := range 200 {
			u, e := idents[fmt.Sprintf("user_id:u-%d", i)], idents[fmt.Sprintf("email:u%d@example.com", i)]
			same := u.ProfileID != "" && u.ProfileID == e.ProfileID
			if a, ok := idents[fmt.Sprintf("anonymous_id:a-%d", i)]; i < 50 && (!ok || a.ProfileID != u.ProfileID) {
				same = false
			}
			if !same {
				t.Errorf("person %d is not one profile in the restored store", i)
			}
		}
		var sum int64
		for k := range writers {
			e := int64(0)
			for e < total[k] && evs[fmt.Sprintf("web/w%d-%d", k, e)].ID != "" {
				e++
			}
			for i := range total[k] {
				_, hasEvent := evs[fmt.Sprintf("web/w%d-%d", k, i)]
				u, hasUser := idents[fmt.Sprintf("user_id:w%d-%d", k, i)]
				m, hasEmail := idents[fmt.Sprintf("email:w%d-%d@example.com", k, i)]
				inSnapshot := i < e
				if hasEvent != inSnapshot || hasUser != inSnapshot || hasEmail != inSnapshot || (inSnapshot && u.ProfileID != m.ProfileID) {
					t.Errorf("writer %d's message %d: event %v, user id %v, email %v (profiles %q, %q); its first %d are whole in the backup and no other",
						k, i, hasEvent, hasUser, hasEmail, u.ProfileID, m.ProfileID, e)
				}
			}
			// A writer has at most one message in flight: committed, maybe
			// in the backup, and not yet acknowledged.
			if e < before[k] || e > after[k]+1 {
				t.Errorf("the backup holds writer %d's first %d messages; %d were acknowledged before it began and %d by its end", k, e, before[k], after[k])
			}
			sum += e
		}
		if want := 200 + int(sum); profiles != want {
			t.Errorf("the restored store counts %d profiles, want %d", profiles, want)
		}
		if n, err := rs.CountKeys(context.Background()); err != nil || n != 3 {
			t.Errorf("the restored store holds %d API keys (%v), want 3", n, err)
		}
		wantLine := fmt.Sprintf("%d identifiers, %d live profiles, 0 merged away, %d events, 3 API keys", 450+2*sum, 200+sum, 250+sum)
		if !strings.Contains(stdout, wantLine) {
			t.Errorf("cdp restore printed %q, want it to say %q", stdout, wantLine)
		}
	})
}

// dirNames lists the entries of dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// cdp backup keeps nothing unless the whole body arrived and is a sound
// store file: a body cut short of its Content-Length, a body that is not
// a store file, and one cut and padded back to its length are refused
// (exit 1, saying why), leaving no file; the same body whole is kept. The
// server here is a stand-in that sends the bytes of a real backup as told.
func TestBackupCommandRefusesBadDownloads(t *testing.T) {
	st := storetest.OpenEmbedded(t)
	newTestKey(t, st, "ops", "", "keys:admin")
	var buf strings.Builder
	if _, err := st.(graph.Backupper).Backup(context.Background(), func(int64) (io.Writer, error) { return &buf, nil }); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	serve := func(body string, length int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/admin/backup" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(length))
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = io.WriteString(w, body)
			if len(body) < length {
				_ = http.NewResponseController(w).Flush()
				panic(http.ErrAbortHandler)
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	half := good[:len(good)/2]
	for _, tc := range []struct {
		name, url, want string
	}{
		{"cut short", serve(half, len(good)), fmt.Sprintf("the backup was cut short after %d of %d bytes", len(half), len(good))},
		{"not a store file", serve(strings.Repeat("x", 10000), 10000), "is not a database file of this store"},
		// Zeros where pages were: the check finds the layout version or
		// buckets missing, whichever pages the zeros hit.
		{"cut and padded", serve(half+strings.Repeat("\x00", len(good)-len(half)), len(good)), "the backup received is a bbolt file but not a database of this store|the backup received holds layout version"},
	} {
		dir := t.TempDir()
		_, stderr, code := runCDP(t, nil, "backup", "--server", tc.url, "--out", filepath.Join(dir, "b.db"))
		said := false
		for _, w := range strings.Split(tc.want, "|") {
			said = said || strings.Contains(stderr, w)
		}
		if code != 1 || !said || !strings.Contains(stderr, "nothing was kept") {
			t.Errorf("%s: exit %d, %q; want 1 saying %q and that nothing was kept", tc.name, code, stderr, tc.want)
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("%s: left %v", tc.name, names)
		}
	}
	dir := t.TempDir()
	stdout, stderr, code := runCDP(t, nil, "backup", "--server", serve(good, len(good)), "--out", filepath.Join(dir, "b.db"))
	want := fmt.Sprintf("%d bytes, layout version %d; 0 identifiers, 0 live profiles, 0 merged away, 0 events, 1 API keys; sha256 %s", len(good), embedded.LayoutVersion, hexSHA(good))
	if code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("a whole backup: exit %d, %q (stderr %q); want it to say %q", code, stdout, stderr, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "b.db")); err != nil || string(b) != good {
		t.Errorf("the backup kept differs from the one sent (%v)", err)
	}
}
