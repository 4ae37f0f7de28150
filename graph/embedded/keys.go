package embedded

import (
	"encoding/binary"
	"time"
)

// Bucket names. The layout is described next to each read and write; keys
// that hold several strings length-prefix all but the last (see appendPart).
// Records marked binary use the encodings of codec.go.
var (
	bucketIdentifiers = []byte("identifiers")        // key -> compact identifier JSON (codec.go)
	bucketMembers     = []byte("members")            // part(profileID) key -> present
	bucketProfiles    = []byte("profiles")           // id -> binary graph.Profile, live profiles only
	bucketMerged      = []byte("merged_profiles")    // id -> binary graph.Profile, merged away
	bucketMeta        = []byte("meta")               // metaFormat, metaLiveCount
	bucketLinkAdj     = []byte("link_adjacency")     // part(a) b -> binary graph.Link; part(b) a -> present; a < b
	bucketRejected    = []byte("rejected")           // part(a) b, a < b -> graph.RejectedLink JSON
	bucketRejectedAdj = []byte("rejected_adjacency") // part(key) other -> present, both ways
	bucketEvents      = []byte("events")             // id -> binary graph.Event with Keys
	bucketBy          = []byte("events_by")          // part(key) time eventID -> present
	bucketChanges     = []byte("changes")            // seq -> graph.ProfileChange JSON
	bucketChangeIdx   = []byte("changes_by_profile") // part(profileID) time seq -> present
)

var allBuckets = [][]byte{
	bucketIdentifiers, bucketMembers, bucketProfiles, bucketMerged, bucketMeta,
	bucketLinkAdj, bucketRejected, bucketRejectedAdj,
	bucketEvents, bucketBy, bucketChanges, bucketChangeIdx,
}

var (
	metaFormat    = []byte("format")
	metaLiveCount = []byte("live_count")
)

// formatVersion is raised whenever the layout above changes, so an old
// binary refuses a file it would misread, and this one refuses an older
// file. Version 3: binary profiles, links and events; compact identifier
// JSON (codec.go); live and merged profiles in separate buckets; a link
// stored in its adjacency entry.
const formatVersion = 3

// present is the value of index entries, whose key says everything. It is
// one byte rather than empty so that Get tells "present" from "absent"
// without relying on how bbolt hands back zero-length values.
var present = []byte{1}

// appendPart appends s prefixed with its length. Identifier values may hold
// any byte, \x00 included, so a separator could not keep the prefix of one
// key from matching a longer key that starts with it; a length can.
func appendPart(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func part(s string) []byte { return appendPart(make([]byte, 0, len(s)+2), s) }

// pairKey is the key of the undirected pair {a, b}, given in order.
func pairKey(a, b string) []byte {
	return append(appendPart(make([]byte, 0, len(a)+len(b)+2), a), b...)
}

// splitPart returns the leading length-prefixed string of k and the rest.
func splitPart(k []byte) (string, []byte) {
	n, w := binary.Uvarint(k)
	if w <= 0 || uint64(len(k)-w) < n {
		return "", nil
	}
	return string(k[w : w+int(n)]), k[w+int(n):]
}

// timeLen is the size of an encoded time: seconds then nanoseconds. Unix
// nanoseconds in one int64 would be shorter but overflow outside 1678-2262,
// and any time.Time must sort correctly.
const timeLen = 12

// appendTime appends t so that byte order is time order: the sign bit of
// the seconds is flipped so times before 1970 sort first.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// prefixEnd returns the smallest key greater than every key starting with
// p, or nil when there is none.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
