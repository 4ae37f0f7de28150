package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var bucketScrubTest = []byte("scrub_test")

// needleValue is a random e-mail address and the forms of it a store may
// hold; the random token in it is what the file is searched for.
type needleValue struct {
	token, email string
}

func newNeedle(t *testing.T) needleValue {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	tok := hex.EncodeToString(b)
	return needleValue{token: tok, email: "needle-" + tok + "@example.com"}
}

// forms are the byte strings that must not be in the file once the value
// is erased: the token in both cases (this covers any escaping of the rest
// of the address) and the address as written, upper-cased and JSON-escaped.
func (n needleValue) forms() []string {
	return []string{
		n.token, strings.ToUpper(n.token),
		n.email, strings.ToUpper(n.email),
		strings.ReplaceAll(n.email, "@", `\u0040`),
	}
}

// recordValue is the i-th record holding the needle: JSON, upper-case,
// JSON-escaped, raw, and every 250th one large enough to span overflow pages.
func (n needleValue) recordValue(i int) []byte {
	switch {
	case i%250 == 0:
		return bytes.Repeat([]byte(n.email+" "), 20000/len(n.email))
	case i%4 == 0:
		b, _ := json.Marshal(map[string]any{"email": n.email, "n": i})
		return b
	case i%4 == 1:
		return []byte(strings.ToUpper(n.email))
	case i%4 == 2:
		return []byte(strings.ReplaceAll(n.email, "@", `\u0040`))
	default:
		return []byte(n.email)
	}
}

func scrubFile(t *testing.T, s *Store) []byte {
	t.Helper()
	b, err := os.ReadFile(s.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// foundForms lists the forms of n present in the file's bytes.
func foundForms(file []byte, n needleValue) []string {
	var found []string
	for _, f := range n.forms() {
		if bytes.Contains(file, []byte(f)) {
			found = append(found, f)
		}
	}
	return found
}

// writeNeedles stores count needle records k00000.., keep keepers and
// over records holding the needle, in one commit per 500 records so that
// the values are spread over many pages and commits.
func writeNeedles(t *testing.T, s *Store, n needleValue, count, keep int) {
	t.Helper()
	ctx := context.Background()
	for lo := 0; lo < count; lo += 500 {
		err := s.update(ctx, func(btx *bolt.Tx) error {
			b, err := btx.CreateBucketIfNotExists(bucketScrubTest)
			if err != nil {
				return err
			}
			for i := lo; i < min(lo+500, count); i++ {
				if err := b.Put(fmt.Appendf(nil, "k%05d", i), n.recordValue(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := s.update(ctx, func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketScrubTest)
		for i := range keep {
			if err := b.Put(fmt.Appendf(nil, "keep%05d", i), fmt.Appendf(nil, "keeper-%d", i)); err != nil {
				return err
			}
			if err := b.Put(fmt.Appendf(nil, "over%05d", i), []byte(n.email)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// eraseNeedles deletes the k records and overwrites the over records.
func eraseNeedles(t *testing.T, s *Store, count, keep int) {
	t.Helper()
	err := s.update(context.Background(), func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketScrubTest)
		for i := range count {
			if err := b.Delete(fmt.Appendf(nil, "k%05d", i)); err != nil {
				return err
			}
		}
		for i := range keep {
			if err := b.Put(fmt.Appendf(nil, "over%05d", i), []byte("clean")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkRemaining checks the file with bbolt's own consistency check and
// that exactly the keepers and the overwritten records are left, with
// their values.
func checkRemaining(t *testing.T, s *Store, keepers, overs int) {
	t.Helper()
	err := s.view(context.Background(), func(btx *bolt.Tx) error {
		for err := range btx.Check() {
			t.Errorf("consistency check: %v", err)
		}
		b := btx.Bucket(bucketScrubTest)
		if b == nil {
			return fmt.Errorf("bucket %s is missing", bucketScrubTest)
		}
		n := 0
		err := b.ForEach(func(k, v []byte) error {
			n++
			var i int
			switch {
			case bytes.HasPrefix(k, []byte("keep")):
				if _, err := fmt.Sscanf(string(k), "keep%05d", &i); err != nil {
					return err
				}
				if want := fmt.Sprintf("keeper-%d", i); string(v) != want {
					t.Errorf("%s = %q, want %q", k, v, want)
				}
			case bytes.HasPrefix(k, []byte("over")):
				if string(v) != "clean" {
					t.Errorf("%s = %q, want clean", k, v)
				}
			default:
				t.Errorf("key %q survived its deletion", k)
			}
			return nil
		})
		if n != keepers+overs {
			t.Errorf("%d records left, want %d", n, keepers+overs)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestScrubErasesDeletedAndOverwrittenValues(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	n := newNeedle(t)
	const count, keep = 3000, 200
	writeNeedles(t, s, n, count, keep)
	eraseNeedles(t, s, count, keep)

	// bbolt keeps the freed pages' bytes: without Scrub the values are
	// still in the file, so this test can fail.
	if found := foundForms(scrubFile(t, s), n); len(found) != len(n.forms()) {
		t.Fatalf("before Scrub the file holds %d of the %d forms of the value; the test would prove nothing", len(found), len(n.forms()))
	}
	st, err := s.Scrub(ctx)
	if err != nil {
		t.Fatalf("Scrub: %v", err)
	}
	t.Logf("Scrub: %+v", st)
	if st.FreePages == 0 || st.ZeroedPages == 0 || st.Waits != 0 {
		t.Errorf("Scrub stats %+v: want free and zeroed pages and no wait", st)
	}
	if found := foundForms(scrubFile(t, s), n); len(found) != 0 {
		t.Errorf("after Scrub the file still holds %d forms of the erased value", len(found))
	}
	checkRemaining(t, s, keep, keep)

	// A second Scrub finds nothing left to write.
	st, err = s.Scrub(ctx)
	if err != nil {
		t.Fatalf("second Scrub: %v", err)
	}
	if st.ZeroedPages != 0 || st.TailBytes != 0 {
		t.Errorf("second Scrub wrote again: %+v", st)
	}

	// The store still writes, and reopens with everything in place.
	err = s.update(ctx, func(btx *bolt.Tx) error {
		return btx.Bucket(bucketScrubTest).Put([]byte("keep99999"), []byte("keeper-99999"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	checkRemaining(t, s, keep+1, keep)
}

func TestScrubWaitsForAReaderThatStillSeesTheValues(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	n := newNeedle(t)
	const count, keep = 1000, 10
	writeNeedles(t, s, n, count, keep)

	waiting := make(chan struct{}, 1)
	prev := scrubPending
	scrubPending = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { scrubPending = prev })

	// The reader begins before the deletion commits, so it must go on
	// reading every deleted value, intact, while Scrub runs.
	opened, release := make(chan struct{}), make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		readErr <- s.view(ctx, func(btx *bolt.Tx) error {
			close(opened)
			<-release
			b := btx.Bucket(bucketScrubTest)
			for i := range count {
				k := fmt.Appendf(nil, "k%05d", i)
				if got := b.Get(k); !bytes.Equal(got, n.recordValue(i)) {
					return fmt.Errorf("the older reader read %s as %d bytes unlike the value it saw stored", k, len(got))
				}
			}
			return nil
		})
	}()
	<-opened
	eraseNeedles(t, s, count, keep)

	type result struct {
		st  ScrubStats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := s.Scrub(ctx)
		done <- result{st, err}
	}()
	select {
	case <-waiting:
	case r := <-done:
		close(release)
		<-readErr
		t.Fatalf("Scrub returned (%+v, %v) while a reader that sees the deleted values was open", r.st, r.err)
	}
	// Reads go on while Scrub waits; a new one sees the deletion.
	err := s.view(ctx, func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketScrubTest).Get([]byte("k00001")); v != nil {
			return fmt.Errorf("a reader begun after the deletion reads k00001")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		t.Fatalf("Scrub returned (%+v, %v) while a reader that sees the deleted values was open", r.st, r.err)
	default:
	}
	close(release)
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Scrub: %v", r.err)
	}
	if r.st.Waits == 0 || r.st.ZeroedPages == 0 {
		t.Errorf("Scrub stats %+v: want at least one wait and zeroed pages", r.st)
	}
	if found := foundForms(scrubFile(t, s), n); len(found) != 0 {
		t.Errorf("after Scrub the file still holds %d forms of the erased value", len(found))
	}
	checkRemaining(t, s, keep, keep)
}

func TestScrubAfterCancelAndClose(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Scrub(cctx); err == nil {
		t.Error("Scrub with a cancelled context returned nil")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scrub(context.Background()); err == nil {
		t.Errorf("Scrub of a closed store returned nil")
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
}

func TestScrubWithConcurrentReadsAndWrites(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	n := newNeedle(t)
	const count, keep = 6000, 20
	writeNeedles(t, s, n, count, keep)
	eraseNeedles(t, s, count, keep)
	if found := foundForms(scrubFile(t, s), n); len(found) != len(n.forms()) {
		t.Fatalf("before Scrub the file holds %d of the %d forms of the value; the test would prove nothing", len(found), len(n.forms()))
	}

	// Writers add keepers and readers check them while Scrub runs; none
	// may fail or read a damaged value. The writers' few commits reuse far
	// fewer pages than the deletion freed, so the value stays in the file
	// unless Scrub zeroes it.
	const workers, rounds = 2, 20
	errs := make(chan error, 2*workers)
	for w := range workers {
		go func() {
			var err error
			for r := 0; r < rounds && err == nil; r++ {
				i := keep + w*rounds + r
				err = s.update(ctx, func(btx *bolt.Tx) error {
					return btx.Bucket(bucketScrubTest).Put(fmt.Appendf(nil, "keep%05d", i), fmt.Appendf(nil, "keeper-%d", i))
				})
			}
			errs <- err
		}()
		go func() {
			var err error
			for r := 0; r < rounds && err == nil; r++ {
				err = s.view(ctx, func(btx *bolt.Tx) error {
					return btx.Bucket(bucketScrubTest).ForEach(func(k, v []byte) error {
						var i int
						if _, err := fmt.Sscanf(string(k), "keep%05d", &i); err == nil {
							if want := fmt.Sprintf("keeper-%d", i); string(v) != want {
								return fmt.Errorf("%s = %q, want %q", k, v, want)
							}
						}
						return nil
					})
				})
			}
			errs <- err
		}()
	}
	for range 3 {
		if _, err := s.Scrub(ctx); err != nil {
			t.Fatalf("Scrub: %v", err)
		}
	}
	for range 2 * workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if found := foundForms(scrubFile(t, s), n); len(found) != 0 {
		t.Errorf("after Scrub the file still holds %d forms of the erased value", len(found))
	}
	checkRemaining(t, s, keep+workers*rounds, keep)
}
