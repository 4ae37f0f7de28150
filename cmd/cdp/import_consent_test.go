package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// A CSV row with a consent decision and no timestamp is dated at the
// file's modification time: a newer file whose row reads as an older
// one's records its decision, and the same file imported again records
// nothing.
func TestImportConsentDatedAtTheFilesModificationTime(t *testing.T) {
	st := storetest.Embedded(t)
	base, _, _ := startApp(t, st, -1)
	dir := t.TempDir()
	args := []string{"import", "--server", base, "--source", "crm", "--map", "user_id=id", "--consent", "email=news"}
	day := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	for i, f := range []struct {
		news  string
		mtime time.Time
		out   string
	}{
		{"false", day, "1 stored, 0 already present"},
		{"true", day.Add(24 * time.Hour), "1 stored, 0 already present"},
		{"true", day.Add(24 * time.Hour), "0 stored, 1 already present"},
		{"false", day.Add(48 * time.Hour), "1 stored, 0 already present"},
	} {
		file := filepath.Join(dir, "consent.csv")
		storetest.Must(t, os.WriteFile(file, []byte("id,news\nc-1,"+f.news+"\n"), 0o600))
		storetest.Must(t, os.Chtimes(file, f.mtime, f.mtime))
		stdout, stderr, code := runCDP(t, nil, append(args, file)...)
		if code != 0 || !strings.Contains(stdout, f.out) {
			t.Fatalf("import %d: exit %d, want %q\nstdout: %s\nstderr: %s", i+1, code, f.out, stdout, stderr)
		}
	}
	// A file dated before 2000 (an archive's zero time), which the server
	// would refuse as a row's time, is dated when the import runs.
	old := filepath.Join(dir, "old.csv")
	storetest.Must(t, os.WriteFile(old, []byte("id,news\nc-2,true\n"), 0o600))
	storetest.Must(t, os.Chtimes(old, time.Unix(0, 0), time.Unix(0, 0)))
	before := graph.Now()
	if stdout, stderr, code := runCDP(t, nil, append(args, old)...); code != 0 || !strings.Contains(stdout, "1 stored") {
		t.Fatalf("import of a file dated 1970: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	m, err := st.(privacy.ConsentStore).ConsentOf(context.Background(), []string{"user_id:c-2"})
	storetest.Must(t, err)
	if rs := m["user_id:c-2"]; len(rs) != 1 || rs[0].At.Before(before.Add(-time.Second)) {
		t.Errorf("file dated 1970: records %+v, want one dated at the import", rs)
	}

	m, err = st.(privacy.ConsentStore).ConsentOf(context.Background(), []string{"user_id:c-1"})
	storetest.Must(t, err)
	rs := m["user_id:c-1"]
	s := privacy.StateOf(rs, "email", graph.Now())
	if len(rs) != 3 || s.State != privacy.StateDenied || !s.At.Equal(day.Add(48*time.Hour)) {
		t.Errorf("%d records, email %s at %s; want 3 records, DENIED at %s", len(rs), s.State, s.At, day.Add(48*time.Hour))
	}
}
