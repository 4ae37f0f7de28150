package console

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVendoredFilesMatchSums checks that every third-party file, under
// static/vendor (embedded) and testdata (axe-core, for the browser tests),
// is the one vendor/update.sh fetched at the versions vendor/package-lock.json
// pins (vendor/SHA256SUMS), that none listed is missing and none present is
// unlisted, so a hand edit or a partial update fails here.
func TestVendoredFilesMatchSums(t *testing.T) {
	f, err := os.Open(filepath.Join("vendor", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			t.Fatalf("SHA256SUMS: malformed line %q", sc.Text())
		}
		want[fields[1]] = fields[0]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("SHA256SUMS lists no file")
	}
	seen := map[string]bool{}
	for _, dir := range []string{"static/vendor", "testdata"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := dir + "/" + e.Name()
			seen[name] = true
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			w, ok := want[name]
			switch {
			case !ok:
				t.Errorf("%s is not in vendor/SHA256SUMS: run console/vendor/update.sh", name)
			case w != hex.EncodeToString(sum[:]):
				t.Errorf("%s differs from what update.sh fetched (SHA-256 %x, listed %s)", name, sum, w)
			}
			if dir != "static/vendor" {
				continue
			}
			// The embedded copy is the file on disk.
			if a, ok := assets["vendor/"+e.Name()]; !ok || sha256.Sum256(a.body) != sum {
				t.Errorf("%s: embedded copy missing or different", name)
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("vendor/SHA256SUMS lists %s, which is missing", name)
		}
	}
	for _, p := range []string{"package.json", "package-lock.json", "update.sh"} {
		if _, err := os.Stat(filepath.Join("vendor", p)); err != nil {
			t.Errorf("vendor/%s: %v", p, err)
		}
	}
}
