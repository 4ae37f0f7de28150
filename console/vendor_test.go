package console

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestVendoredFilesMatchSums checks that every third-party file under
// static/vendor is the one vendor/update.sh fetched (vendor/SHA256SUMS),
// that no file is listed but missing, and none is present but unlisted, so
// a hand edit or a partial update fails here.
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
	entries, err := os.ReadDir(filepath.Join("static", "vendor"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
		b, err := os.ReadFile(filepath.Join("static", "vendor", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		w, ok := want[e.Name()]
		switch {
		case !ok:
			t.Errorf("static/vendor/%s is not in vendor/SHA256SUMS: run console/vendor/update.sh", e.Name())
		case w != hex.EncodeToString(sum[:]):
			t.Errorf("static/vendor/%s differs from what update.sh fetched (SHA-256 %x, listed %s)", e.Name(), sum, w)
		}
		// The embedded copy is the file on disk.
		if a, ok := assets["vendor/"+e.Name()]; !ok || sha256.Sum256(a.body) != sum {
			t.Errorf("vendor/%s: embedded copy missing or different", e.Name())
		}
	}
	sort.Strings(got)
	for name := range want {
		if i := sort.SearchStrings(got, name); i == len(got) || got[i] != name {
			t.Errorf("vendor/SHA256SUMS lists %s, which static/vendor lacks", name)
		}
	}
	// The lockfile pins what package.json asks for.
	for _, p := range []string{"package.json", "package-lock.json", "update.sh"} {
		if _, err := os.Stat(filepath.Join("vendor", p)); err != nil {
			t.Errorf("vendor/%s: %v", p, err)
		}
	}
}
