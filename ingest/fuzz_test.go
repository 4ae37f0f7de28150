package ingest_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/idgraph/cdp/ingest"
)

// FuzzParseMessage checks that no input panics the parser, that every
// refusal is a *MessageError with a readable message, and that every
// accepted message is complete, storable and parsed the same way twice.
// Seeds live in testdata/fuzz/FuzzParseMessage.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(`{"type":"track","event":"e","userId":"u"}`))
	f.Add([]byte(`{"type":"identify","userId":"\ud800","userId":"\udc00x","traits":{"email":"\\ud800\ud83d\ude00"},"context":{"externalIds":[{"id":"\udbff","type":"t"}]}}`))
	e := ingest.Envelope{
		Source:     "web",
		ReceivedAt: recv,
		SentAt:     recv.Add(-time.Second),
		Context:    map[string]any{"library": map[string]any{"name": "fuzz"}},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := ingest.ParseMessage(raw, e)
		if err != nil {
			var me *ingest.MessageError
			if !errors.As(err, &me) {
				t.Fatalf("error %v is a %T, want *MessageError", err, err)
			}
			if me.Reason == "" || me.Message == "" || !utf8.ValidString(me.Message) {
				t.Fatalf("unreadable refusal: %+v", me)
			}
			return
		}
		if ev.MessageID == "" || len(ev.MessageID) > ingest.MaxMessageIDBytes || ev.ID != ingest.EventID("web", ev.MessageID) {
			t.Fatalf("event id %q, message id %q", ev.ID, ev.MessageID)
		}
		if len(ev.Digest) != 64 {
			t.Fatalf("digest %q", ev.Digest)
		}
		if len(ev.Identifiers) == 0 {
			t.Fatal("accepted a message with no identifier")
		}
		if ev.Channel == "" || ev.Source != "web" {
			t.Fatalf("channel %q source %q", ev.Channel, ev.Source)
		}
		if ev.Timestamp.Before(ingest.MinTimestamp) || ev.Timestamp.After(recv.Add(ingest.MaxFuture)) {
			t.Fatalf("timestamp %s out of range", ev.Timestamp)
		}
		if _, err := json.Marshal(ev.Properties); err != nil {
			t.Fatalf("properties cannot be stored: %v", err)
		}
		if _, err := json.Marshal(ev.Traits); err != nil {
			t.Fatalf("traits cannot be stored: %v", err)
		}
		again, err := ingest.ParseMessage(raw, e)
		if err != nil || !reflect.DeepEqual(ev, again) {
			t.Fatalf("second parse differs: %+v / %v", again, err)
		}
	})
}
