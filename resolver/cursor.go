package resolver

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/idgraph/cdp/graph"
)

// Cursors are opaque to clients: base64url of a small versioned JSON object
// naming the list it belongs to ("k"), the sort key and the tiebreak id.
// Profiles are ordered by id alone, so their cursor carries the id; journeys
// are ordered by (timestamp, id) descending, so theirs carries both. Keyset
// cursors keep their place while new data arrives: nothing inserted before
// or after a cursor shifts what follows it.
const (
	cursorVersion    = 1
	cursorKindProf   = "profiles"
	cursorKindEvents = "journey"
	// maxCursorLen bounds what is decoded; real cursors are far shorter.
	maxCursorLen = 2048
	// maxCursorID bounds the id a cursor may carry.
	maxCursorID = 1024
)

type cursorBody struct {
	V  int    `json:"v"`
	K  string `json:"k"`
	ID string `json:"id"`
	T  string `json:"t,omitempty"`
}

func encodeCursor(c cursorBody) string {
	b, _ := json.Marshal(c) // a struct of strings and an int always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// profileCursor returns the cursor of a profile in Query.profiles.
func profileCursor(id string) string {
	return encodeCursor(cursorBody{V: cursorVersion, K: cursorKindProf, ID: id})
}

// journeyCursor returns the cursor of an event in Profile.journey.
func journeyCursor(e graph.Event) string {
	return encodeCursor(cursorBody{V: cursorVersion, K: cursorKindEvents, ID: e.ID, T: graph.Clean(e.Timestamp).Format(time.RFC3339Nano)})
}

// decodeCursor parses a cursor of kind for the named argument. Anything that
// is not a cursor this server made for that list is INVALID_ARGUMENT.
func decodeCursor(arg, kind, s string) (cursorBody, error) {
	bad := func(why string) (cursorBody, error) {
		return cursorBody{}, graph.Errorf(graph.EINVALID, "argument %q is not a valid %s cursor: %s", arg, kind, why)
	}
	if len(s) > maxCursorLen {
		return bad("too long")
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bad("not base64url")
	}
	var c cursorBody
	if err := json.Unmarshal(raw, &c); err != nil {
		return bad("malformed")
	}
	if c.V != cursorVersion {
		return bad("unknown version")
	}
	if c.K != kind {
		return bad("it belongs to another list")
	}
	if c.ID == "" || len(c.ID) > maxCursorID {
		return bad("missing or oversized id")
	}
	return c, nil
}

func decodeProfileCursor(arg, s string) (string, error) {
	c, err := decodeCursor(arg, cursorKindProf, s)
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

func decodeJourneyCursor(arg, s string) (graph.JourneyCursor, error) {
	c, err := decodeCursor(arg, cursorKindEvents, s)
	if err != nil {
		return graph.JourneyCursor{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, c.T)
	if err != nil {
		return graph.JourneyCursor{}, graph.Errorf(graph.EINVALID, "argument %q is not a valid %s cursor: bad timestamp", arg, cursorKindEvents)
	}
	return graph.JourneyCursor{Timestamp: graph.Clean(t), ID: c.ID}, nil
}
