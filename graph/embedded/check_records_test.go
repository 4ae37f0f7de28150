package embedded

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// A backup whose pages are sound but one of whose records is damaged (a
// length inside an event's value changed, as a flipped bit on a disk or
// in transit would) is refused by CheckFile, and so by cdp backup and cdp
// restore, saying which kind of record cannot be read and naming no key
// or value, rather than restored as sound and found damaged later, when
// the server or cdp copy reads that event.
func TestCheckFileRefusesARecordThatCannotBeRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	const id = "test/damaged-event-7f3a"
	res, err := graph.NewEngine(s, nil).ApplyBatch(ctx, []graph.Event{{ID: id, MessageID: "damaged-event-7f3a", Type: "track", Name: "Viewed",
		Source: "test", Timestamp: at, ReceivedAt: at, Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u-damaged"}}}})
	if err != nil || res.Stored != 1 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	good := t.TempDir() + "/good.db"
	backupTo(t, s, good, nil)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckFile(ctx, good); err != nil {
		t.Fatalf("CheckFile refused the sound backup: %v", err)
	}

	// In a leaf page bbolt stores each value right after its key; an
	// event's value begins with the length of its type ("track", 5).
	path := damage(t, good, func(b []byte) []byte {
		rec := []byte(id + "\x05track")
		at := bytes.Index(b, rec)
		if at < 0 || bytes.Index(b[at+1:], rec) >= 0 {
			t.Fatalf("the event's record is not found once in the backup")
		}
		b[at+len(id)] = 0xff // a length far past the record's end
		return b
	})
	_, err = CheckFile(ctx, path)
	if err == nil {
		t.Fatal("CheckFile accepted a file with an event that cannot be read")
	}
	if !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "events") {
		t.Errorf("CheckFile error %q does not say that an event is damaged", err)
	}
	for _, v := range []string{id, "damaged-event-7f3a", "u-damaged"} {
		if strings.Contains(err.Error(), v) {
			t.Errorf("CheckFile error %q names a key or value of the file", err)
		}
	}
}
