package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/bench"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
	"github.com/idgraph/cdp/server"
)

// copyRun runs cdp copy in this process and returns its output and exit
// code. A copy that does not end within five minutes fails the test (a
// hang guard, not a timing assertion).
func copyRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, append([]string{"copy"}, args...), &out, &errOut)
	if ctx.Err() != nil {
		t.Fatalf("cdp copy %s did not end; stderr: %s", strings.Join(args, " "), errOut.String())
	}
	return out.String(), errOut.String(), code
}

// copyOK runs cdp copy, which must succeed.
func copyOK(t *testing.T, args ...string) {
	t.Helper()
	if out, errOut, code := copyRun(t, args...); code != 0 {
		t.Fatalf("cdp copy %v: exit %d\n%s\n%s", args, code, out, errOut)
	}
}

// copyEachWay copies the embedded store in src to a new embedded store,
// to the test Neo4j (emptied first) and from there to another embedded
// store, and checks each copy with check, naming it by what.
func copyEachWay(t *testing.T, src string, check func(what string, s graph.Store)) {
	t.Helper()
	ctx := context.Background()
	dst, back := t.TempDir(), t.TempDir()
	copyOK(t, "--from-data-dir", src, "--to-data-dir", dst)
	ed, err := embedded.Open(dst)
	storetest.Must(t, err)
	check("embedded copy", ed)
	storetest.Must(t, ed.Close(ctx))

	neo := storetest.OpenNeo4j(t) // the lock, and an empty database
	copyOK(t, append([]string{"--from-data-dir", src}, neo4jFlags("to")...)...)
	copyOK(t, append(neo4jFlags("from"), "--to-data-dir", back)...)
	check("Neo4j copy", neo)
	eb, err := embedded.Open(back)
	storetest.Must(t, err)
	defer eb.Close(ctx)
	check("embedded copy of the Neo4j copy", eb)
}

// neo4jFlags names the test Neo4j as the side (from or to) of a copy.
func neo4jFlags(side string) []string {
	cfg := storetest.Neo4jConfig()
	args := []string{"--" + side + "-neo4j-uri", cfg.URI}
	if cfg.Database != "" {
		args = append(args, "--"+side+"-neo4j-database", cfg.Database)
	}
	if cfg.User != "" {
		args = append(args, "--"+side+"-neo4j-user", cfg.User, "--"+side+"-neo4j-password", cfg.Password)
	}
	return args
}

// copyProbe is one GraphQL query asked of every store.
type copyProbe struct{ name, query string }

// profileFields selects everything a profile shows: identifiers with their
// times, sources and traits, traits, the first page of the journey with
// every event field, history and the identity graph.
const profileFields = `id size createdAt updatedAt traits
  traitValues { name value source at identifier { key } }
  traitSources { name value source at identifier { key } }
  identifiers { key type value firstSeen lastSeen sources traits { name value source at } }
  journey(first: 100) {
    edges { cursor node { id messageId type name channel source timestamp receivedAt properties traits identifiers { key } shared } }
    pageInfo { hasNextPage endCursor }
  }
  history { kind from into at reason }
  identityGraph { profileId nodes { id type value profileId inProfile firstSeen } edges { from to rejected source evidence reason count } }`

const explainFields = `linked profileA profileB
  path { from { key } to { key } source evidence evidenceEvent { id messageId timestamp } count firstSeen lastSeen }
  refusals { a { key } b { key } source reason }`

func refInput(key string) string {
	r := graph.SplitKey(key)
	return fmt.Sprintf(`{type: %q, value: %q}`, r.Type, r.Value)
}

// copyProbes picks the queries from what the store holds: profiles by
// identifier and explanations for every 40th link, explanations for refused
// links and for identifiers of different profiles, and the history of
// profiles that were merged or split, through their old ids too.
func copyProbes(t *testing.T, st *embedded.Store) (probes []copyProbe, merged, refused int) {
	t.Helper()
	ctx := context.Background()
	read := func(k dump.Kind) dump.Batch {
		all := dump.Batch{Kind: k}
		after := ""
		for {
			b, err := st.Page(ctx, k, after, 5000)
			if err != nil {
				t.Fatal(err)
			}
			all.Links = append(all.Links, b.Links...)
			all.Rejected = append(all.Rejected, b.Rejected...)
			all.Changes = append(all.Changes, b.Changes...)
			if b.Next == "" {
				return all
			}
			after = b.Next
		}
	}
	links := read(dump.Links).Links
	for i := 0; i < len(links); i += 40 {
		l := links[i]
		probes = append(probes,
			copyProbe{"profileByIdentifier " + l.A, fmt.Sprintf(`{ p: profileByIdentifier(type: %q, value: %q) { %s } }`,
				graph.SplitKey(l.A).Type, graph.SplitKey(l.A).Value, profileFields)},
			copyProbe{"explainLink " + l.A + " " + l.B, fmt.Sprintf(`{ e: explainLink(a: %s, b: %s) { %s } }`, refInput(l.A), refInput(l.B), explainFields)})
		if j := i + 20; j < len(links) {
			probes = append(probes, copyProbe{"explainLink apart " + l.A + " " + links[j].B,
				fmt.Sprintf(`{ e: explainLink(a: %s, b: %s) { %s } }`, refInput(l.A), refInput(links[j].B), explainFields)})
		}
	}
	rejected := read(dump.Rejected).Rejected
	for i := 0; i < len(rejected) && i < 40; i++ {
		r := rejected[i]
		refused++
		probes = append(probes, copyProbe{"explainLink refused " + r.A + " " + r.B,
			fmt.Sprintf(`{ e: explainLink(a: %s, b: %s) { %s } }`, refInput(r.A), refInput(r.B), explainFields)})
	}
	changes := read(dump.Changes).Changes
	for i := 0; i < len(changes) && i < 60; i++ {
		c := changes[i]
		merged++
		probes = append(probes,
			copyProbe{"profile from " + c.From, fmt.Sprintf(`{ p: profile(id: %q) { %s } }`, c.From, profileFields)},
			copyProbe{"profile into " + c.Into, fmt.Sprintf(`{ p: profile(id: %q) { id size history { kind from into at reason } } }`, c.Into)})
	}
	probes = append(probes, copyProbe{"profiles page", `{ profiles(first: 200) { totalCount edges { cursor node { id size createdAt updatedAt } } pageInfo { hasNextPage endCursor } } }`})
	return probes, merged, refused
}

// startCopyApp runs the service on st; stop shuts it down (the store stays
// open).
func startCopyApp(t *testing.T, st graph.Store) (base string, stop func()) {
	t.Helper()
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := bench.Rules()
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Defaults()
	cfg.Store, cfg.Rules, cfg.Listener, cfg.Logger = st, rules, ln, zerolog.Nop()
	cfg.Collector.WriteKeys = map[string]string{"wk-copy": "web"}
	cfg.AudienceRefresh = -1
	cfg.Auth.RateLimit, cfg.Auth.Burst = 1e6, 1e6
	// The probes ask for everything at once.
	cfg.GraphQL.MaxComplexity, cfg.GraphQL.MaxSelections = 1e9, 1e6
	svc, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Start()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			if err := svc.Close(context.Background()); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(stop)
	return "http://" + svc.Server.Addr(), stop
}

func httpPost(t *testing.T, url, writeKey string, body []byte) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if writeKey != "" {
		req.SetBasicAuth(writeKey, "")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// askAll asks every probe and returns the answers in probe order.
func askAll(t *testing.T, base string, probes []copyProbe) []string {
	t.Helper()
	out := make([]string, len(probes))
	for i, p := range probes {
		body, err := json.Marshal(map[string]any{"query": p.query})
		if err != nil {
			t.Fatal(err)
		}
		ans := httpPost(t, base+"/graphql", "", body)
		if strings.Contains(ans, `"errors"`) {
			t.Fatalf("%s: %s", p.name, ans)
		}
		out[i] = ans
	}
	return out
}

// A realistic store of 20,000 events goes embedded -> Neo4j -> embedded,
// and the same GraphQL queries (profiles by identifier with every field,
// their journeys, traits and history, old ids, explanations of links,
// refusals and unlinked pairs, a page of profiles) answer the same bytes on
// all three; each copy verifies counts and the partition checksum.
func TestCopyRoundTripAnswersTheSame(t *testing.T) {
	// Under CI a Neo4j test never skips, -short or not.
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("copies 20,000 events through Neo4j")
	}
	ds, err := bench.Generate(bench.GenConfig{People: 2000, Events: 20000, Seed: 15})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Now()
	defer func() { t.Logf("total %s", time.Since(t0)) }()

	// 1. The source: the generated messages through the collector.
	dir1 := t.TempDir()
	src, err := embedded.Open(dir1)
	if err != nil {
		t.Fatal(err)
	}
	base, stop := startCopyApp(t, src)
	// A computed trait and two audiences, kept by the keeper as events
	// arrive: their definitions, values, members and logs are copied too.
	var created struct {
		Data struct {
			A struct{ ID string } `json:"a"`
			B struct{ ID string } `json:"b"`
		} `json:"data"`
	}
	ans := askAll(t, base, []copyProbe{{"define", `mutation {
  t: defineComputedTrait(input: {name: "page_views", aggregate: COUNT, eventType: "page"}) { name }
  a: createAudience(input: {name: "Named", filter: {trait: {name: "firstName", op: EXISTS}}}) { id }
  b: createAudience(input: {name: "Readers", description: "viewed pages", filter: {computed: {name: "page_views", op: GTE, value: 2}}}) { id }
}`}})
	if err := json.Unmarshal([]byte(ans[0]), &created); err != nil || created.Data.A.ID == "" || created.Data.B.ID == "" {
		t.Fatalf("define audiences: %v %s", err, ans[0])
	}
	for i := 0; i < len(ds.Messages); i += 500 {
		var b bytes.Buffer
		b.WriteString(`{"batch":[`)
		b.Write(bytes.Join(ds.Messages[i:min(i+500, len(ds.Messages))], []byte(",")))
		b.WriteString("]}")
		httpPost(t, base+"/v1/batch", "wk-copy", b.Bytes())
	}
	t.Logf("ingest %s", time.Since(t0))
	probes, merged, refused := copyProbes(t, src)
	for _, id := range []string{created.Data.A.ID, created.Data.B.ID} {
		probes = append(probes, copyProbe{"audience " + id, fmt.Sprintf(`{ a: audience(id: %q) {
  id name description filter purpose size createdAt updatedAt refreshedAt
  members(first: 500) { totalCount edges { cursor node { id size } } pageInfo { hasNextPage endCursor } }
  changes(first: 500) { edges { cursor node { kind profileId at } } pageInfo { hasNextPage endCursor } }
} computedTraits { name description aggregate event eventType property where window createdAt updatedAt } }`, id)})
	}
	if merged == 0 || refused == 0 {
		t.Fatalf("the population has %d history entries and %d refused links among the probes; the test needs both", merged, refused)
	}
	// The keeper evaluates membership after each commit, in the
	// background, and its shutdown evaluates whatever it still has queued:
	// the answers to copy are those of the store once it has settled, so
	// they are asked of a service started again on it.
	stop()
	base, stop = startCopyApp(t, src)
	want := askAll(t, base, probes)
	t.Logf("asked %s", time.Since(t0))
	stop()
	counts, err := dump.Count(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if counts[dump.Events] < 15000 {
		t.Fatalf("only %d events stored of %d messages", counts[dump.Events], len(ds.Messages))
	}
	srcFeed := feedLines(t, src)
	if len(srcFeed) < 15000 {
		t.Fatalf("the source's feed holds %d entries, want one at least per stored event", len(srcFeed))
	}
	dests := seedDestinations(t, src, srcFeed)
	srcDests := destinationLines(t, src)
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("source: %s; %d probes", counts, len(probes))
	if !strings.Contains(want[len(want)-1], `"size":`) || strings.Contains(want[len(want)-1], `"size":0,`) ||
		strings.Contains(want[len(want)-2], `"size":0,`) {
		t.Fatalf("the audiences have no members; the test needs some:\n%s\n%s", want[len(want)-2], want[len(want)-1])
	}

	// 2. Embedded -> Neo4j. The test holds the Neo4j lock and an emptied
	// database; cdp copy opens its own connection.
	neo := storetest.OpenNeo4j(t)
	out, errOut, code := copyRun(t, append([]string{"--from-data-dir", dir1}, neo4jFlags("to")...)...)
	if code != 0 || !strings.Contains(out, "match: counts, live profiles, feed head and trimmed, delivery numbers, the partition checksum and the content checksums of") {
		t.Fatalf("copy to Neo4j: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("copied to neo4j %s\n%s\n%s", time.Since(t0), out, errOut)
	table := copyTable(out)
	for _, k := range dump.Kinds {
		if n := fmt.Sprint(counts[k]); table[string(k)] != [2]string{n, n} {
			t.Errorf("copy to Neo4j prints %s %v, want %s on both sides:\n%s", k, table[string(k)], n, out)
		}
	}
	// The feed is copied entry for entry, Seqs, times and head included.
	compareLines(t, "the Neo4j copy", feedLines(t, neo), srcFeed)
	compareLines(t, "the Neo4j copy's destinations", destinationLines(t, neo), srcDests)
	if table["destinations"] != [2]string{"2", "2"} || table["deliveries"] != [2]string{"3", "3"} {
		t.Errorf("copy to Neo4j prints destinations %v and deliveries %v, want 2 and 3 on both sides", table["destinations"], table["deliveries"])
	}
	// The copy works on (this writes to it; the service below then
	// delivers the destination's batches, and fails to, as it would).
	checkCopiedDestinations(t, neo, dests)
	base, stop = startCopyApp(t, neo)
	compareAnswers(t, "Neo4j copy", probes, want, askAll(t, base, probes))
	t.Logf("asked neo4j %s", time.Since(t0))
	stop()
	neoFeed := feedLines(t, neo)
	neoDests := destinationLines(t, neo)

	// 3. Neo4j -> a new embedded store.
	dir3 := t.TempDir()
	out, errOut, code = copyRun(t, append(neo4jFlags("from"), "--to-data-dir", dir3)...)
	if code != 0 || !strings.Contains(out, "match: counts, live profiles, feed head and trimmed, delivery numbers, the partition checksum and the content checksums of") {
		t.Fatalf("copy from Neo4j: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("copied back %s\n%s", time.Since(t0), errOut)
	back, err := embedded.Open(dir3)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close(ctx)
	compareLines(t, "the embedded copy of the Neo4j copy", feedLines(t, back), neoFeed)
	compareLines(t, "the embedded copy's destinations", destinationLines(t, back), neoDests)
	base, stop = startCopyApp(t, back)
	compareAnswers(t, "embedded copy of the Neo4j copy", probes, want, askAll(t, base, probes))
	stop()
}

// feedLines reads the whole feed of st, an entry a line, then its head.
func feedLines(t *testing.T, st graph.Store) []string {
	t.Helper()
	fs := st.(graph.FeedStore)
	var out []string
	after := uint64(0)
	for {
		es, err := fs.Feed(context.Background(), after, nil, graph.MaxFeedPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			out = append(out, fmt.Sprintf("%d %s %s %s %v %s %s", e.Seq, e.At.Format(time.RFC3339Nano), e.Kind, e.ProfileID, e.PreviousIDs, e.EventID, e.AudienceID))
		}
		if len(es) < graph.MaxFeedPage {
			break
		}
		after = es[len(es)-1].Seq
	}
	head, err := fs.FeedHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return append(out, fmt.Sprint("head ", head))
}

func compareLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d lines, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: line %d is %q, want %q", what, i, got[i], want[i])
			return
		}
	}
}

func compareAnswers(t *testing.T, what string, probes []copyProbe, want, got []string) {
	t.Helper()
	bad := 0
	for i := range probes {
		if got[i] == want[i] {
			continue
		}
		if bad++; bad <= 3 {
			j := 0
			for j < len(got[i]) && j < len(want[i]) && got[i][j] == want[i][j] {
				j++
			}
			from := max(0, j-200)
			t.Errorf("%s answers %s differently from byte %d:\n got  ...%s\n want ...%s", what, probes[i].name, j,
				got[i][from:min(len(got[i]), j+200)], want[i][from:min(len(want[i]), j+200)])
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d answers differ", what, bad, len(probes))
	}
}

// ingestEvents stores identify events through the engine, each carrying
// the identifiers given as "type:value".
func ingestEvents(t *testing.T, dir string, events map[string][]string) {
	t.Helper()
	st, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var batch []graph.Event
	for id, keys := range events {
		ev := graph.Event{ID: "test/" + id, MessageID: id, Type: "identify", Source: "test", Timestamp: at, ReceivedAt: at}
		for _, k := range keys {
			ev.Identifiers = append(ev.Identifiers, graph.SplitKey(k))
		}
		batch = append(batch, ev)
	}
	res, err := graph.NewEngine(st, nil).ApplyBatch(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Results {
		if r.Status != graph.StatusStored {
			t.Fatalf("event %s: %+v", batch[i].ID, r)
		}
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// A target that holds records is refused unless --force, and left as it
// was; --verify-only tells equal stores from different ones, printing the
// partition checksum worked out by hand; a copy run again with --force
// duplicates nothing.
func TestCopyRefusesNonEmptyTargetAndVerifies(t *testing.T) {
	dirA, dirB, dirC := t.TempDir(), t.TempDir(), t.TempDir()
	ingestEvents(t, dirA, map[string][]string{"a1": {"user_id:u1", "email:a@x.example"}, "a2": {"email:b@x.example"}})
	ingestEvents(t, dirB, map[string][]string{"b1": {"email:c@x.example"}})

	// Profiles {email:a@x.example, user_id:u1} and {email:b@x.example}.
	partA := sha256Hex(strings.Join([]string{"email:a@x.example", "user_id:u1"}, "\n") + "\n")
	partB := sha256Hex("email:b@x.example\n")
	pair := []string{partA, partB}
	if pair[1] < pair[0] {
		pair[0], pair[1] = pair[1], pair[0]
	}
	wantSum := sha256Hex(pair[0] + "\n" + pair[1] + "\n")

	out, errOut, code := copyRun(t, "--from-data-dir", dirA, "--to-data-dir", dirB)
	if code != 1 || !strings.Contains(errOut, "is not empty") || !strings.Contains(errOut, "--force") {
		t.Fatalf("copy into a non-empty store: exit %d\n%s\n%s", code, out, errOut)
	}
	_, _, code = copyRun(t, "--verify-only", "--from-data-dir", dirB, "--to-data-dir", dirB+"/../"+lastPathPart(dirB))
	if code != 2 {
		t.Errorf("a copy of a store onto itself: exit %d, want 2", code)
	}
	stB, err := embedded.Open(dirB)
	if err != nil {
		t.Fatal(err)
	}
	n, err := stB.Count(context.Background(), dump.Identifiers)
	stB.Close(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("the refused target holds %d identifiers (%v), want its 1", n, err)
	}

	out, errOut, code = copyRun(t, "--from-data-dir", dirA, "--to-data-dir", dirC)
	if code != 0 || !strings.Contains(out, "match: counts, live profiles, feed head and trimmed, delivery numbers, the partition checksum and the content checksums of") {
		t.Fatalf("copy into an empty store: exit %d\n%s\n%s", code, out, errOut)
	}
	wantTable := map[string][2]string{
		"profiles": {"2", "2"}, "identifiers": {"3", "3"}, "links": {"1", "1"}, "rejected": {"0", "0"},
		"events": {"2", "2"}, "changes": {"0", "0"}, "api_keys": {"0", "0"}, "audit": {"0", "0"},
		"consent": {"0", "0"}, "suppression_key": {"1", "1"}, "suppressed": {"0", "0"}, "retired_profile_ids": {"0", "0"}, "receipts": {"0", "0"},
		"computed_traits": {"0", "0"}, "computed_values": {"0", "0"}, "facts": {"0", "0"},
		"audiences": {"0", "0"}, "audience_members": {"0", "0"}, "audience_changes": {"0", "0"}, "feed": {"2", "2"},
		"destinations": {"0", "0"}, "deliveries": {"0", "0"}, "live profiles": {"2", "2"}, "partition sha256": {wantSum, wantSum},
		"feed head": {"2", "2"}, "feed trimmed": {"0", "0"}, "delivery numbers": {"0", "0"},
	}
	if got := copyTable(out); fmt.Sprint(got) != fmt.Sprint(wantTable) {
		t.Errorf("copy prints %v, want %v:\n%s", got, wantTable, out)
	}

	out, errOut, code = copyRun(t, "--verify-only", "--from-data-dir", dirA, "--to-data-dir", dirC)
	if code != 0 || !strings.Contains(out, "match: counts, live profiles, feed head and trimmed, delivery numbers, the partition checksum and the content checksums of") || strings.Contains(out, "copying") {
		t.Fatalf("verify equal stores: exit %d\n%s\n%s", code, out, errOut)
	}
	// --verify-only against a folder with no store makes none there.
	missing := filepath.Join(t.TempDir(), "typo")
	_, errOut, code = copyRun(t, "--verify-only", "--from-data-dir", dirA, "--to-data-dir", missing)
	if _, err := os.Stat(filepath.Join(missing, embedded.FileName)); code != 1 || !strings.Contains(errOut, "no embedded store in") || err == nil {
		t.Errorf("--verify-only against a missing store: exit %d, %q; store file made: %v", code, errOut, err == nil)
	}
	// Copied again with --force: nothing is added.
	out, errOut, code = copyRun(t, "--force", "--from-data-dir", dirA, "--to-data-dir", dirC)
	if code != 0 || copyTable(out)["events"] != [2]string{"2", "2"} || copyTable(out)["changes"] != [2]string{"0", "0"} {
		t.Fatalf("copy again with --force: exit %d\n%s\n%s", code, out, errOut)
	}

	// C gains a link: b joins u1's profile, with a merge and an event in
	// its feed.
	ingestEvents(t, dirC, map[string][]string{"c1": {"user_id:u1", "email:b@x.example"}})
	out, errOut, code = copyRun(t, "--verify-only", "--from-data-dir", dirA, "--to-data-dir", dirC)
	if code != 1 || !strings.Contains(errOut, "the stores differ: links, events, changes, feed, live profiles, feed head, partition") {
		t.Fatalf("verify different stores: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := copyTable(out); got["partition sha256"][0] != wantSum || got["partition sha256"][1] == wantSum ||
		got["links"] != [2]string{"1", "2"} || got["changes"] != [2]string{"0", "1"} || got["feed"] != [2]string{"2", "4"} || got["live profiles"] != [2]string{"2", "1"} {
		t.Errorf("verify prints %v:\n%s", got, out)
	}

	// With --force into B, the copy is made but B also holds its own
	// record, so the verification fails.
	out, errOut, code = copyRun(t, "--force", "--from-data-dir", dirA, "--to-data-dir", dirB)
	if code != 1 || copyTable(out)["identifiers"] != [2]string{"3", "4"} || !strings.Contains(errOut, "the stores differ: profiles, identifiers, events, live profiles, partition") {
		t.Fatalf("copy into a non-empty store with --force: exit %d\n%s\n%s", code, out, errOut)
	}

	for _, bad := range [][]string{
		{"--to-data-dir", dirC},
		{"--from-data-dir", dirA},
		{"--from-data-dir", dirA, "--from-neo4j-uri", "bolt://127.0.0.1:1", "--to-data-dir", dirC},
		{"--from-data-dir", dirA, "--to-data-dir", dirC, "--batch", "0"},
	} {
		if _, errOut, code := copyRun(t, bad...); code != 2 {
			t.Errorf("cdp copy %v: exit %d, want 2 (%s)", bad, code, errOut)
		}
	}
	if _, errOut, code := copyRun(t, "--from-data-dir", t.TempDir(), "--to-data-dir", t.TempDir()); code != 1 || !strings.Contains(errOut, "no embedded store") {
		t.Errorf("copy from a folder with no store: exit %d (%s)", code, errOut)
	}
}

// Into Neo4j as into a folder: a target that holds records is refused and
// left unchanged, and --verify-only compares an embedded store with a Neo4j
// one, the partition checksum worked out by hand.
func TestCopyToNeo4jRefusesNonEmptyAndVerifies(t *testing.T) {
	neo := storetest.OpenNeo4j(t) // the test lock, and an empty database
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	ingestEvents(t, dirA, map[string][]string{"a1": {"user_id:u1", "email:a@x.example"}, "a2": {"email:b@x.example"}})
	ingestEvents(t, dirB, map[string][]string{"b1": {"email:c@x.example"}})
	partA := sha256Hex("email:a@x.example\nuser_id:u1\n")
	partB := sha256Hex("email:b@x.example\n")
	pair := []string{partA, partB}
	if pair[1] < pair[0] {
		pair[0], pair[1] = pair[1], pair[0]
	}
	wantSum := sha256Hex(pair[0] + "\n" + pair[1] + "\n")

	out, errOut, code := copyRun(t, append([]string{"--from-data-dir", dirA}, neo4jFlags("to")...)...)
	if code != 0 || !strings.Contains(out, "match: counts, live profiles, feed head and trimmed, delivery numbers, the partition checksum and the content checksums of") {
		t.Fatalf("copy into an empty Neo4j: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := copyTable(out)["partition sha256"]; got != [2]string{wantSum, wantSum} {
		t.Errorf("partition checksums %v, want %s on both sides", got, wantSum)
	}

	out, errOut, code = copyRun(t, append([]string{"--from-data-dir", dirB}, neo4jFlags("to")...)...)
	if code != 1 || !strings.Contains(errOut, "is not empty") || !strings.Contains(errOut, "--force") {
		t.Fatalf("copy into a Neo4j holding records: exit %d\n%s\n%s", code, out, errOut)
	}
	if n, err := neo.Count(ctx, dump.Identifiers); err != nil || n != 3 {
		t.Fatalf("the refused Neo4j holds %d identifiers (%v), want the 3 copied before", n, err)
	}

	out, errOut, code = copyRun(t, append([]string{"--verify-only", "--from-data-dir", dirA}, neo4jFlags("to")...)...)
	if code != 0 || !strings.Contains(out, "match: counts, live profiles, feed head and trimmed, delivery numbers, the partition checksum and the content checksums of") || strings.Contains(out, "copying") {
		t.Fatalf("verify equal stores: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = copyRun(t, append([]string{"--verify-only", "--from-data-dir", dirB}, neo4jFlags("to")...)...)
	if code != 1 || !strings.Contains(errOut, "the stores differ") {
		t.Fatalf("verify different stores: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := copyTable(out); got["identifiers"] != [2]string{"1", "3"} || got["partition sha256"][1] != wantSum {
		t.Errorf("verify prints %v:\n%s", got, out)
	}
}

// copyTable reads the comparison cdp copy prints: per kind, "live
// profiles" and "partition sha256", the source and target values.
func copyTable(out string) map[string][2]string {
	rows := map[string][2]string{}
	names := []string{"live profiles", "feed head", "feed trimmed", "delivery numbers", string(dump.APIKeys), string(dump.Audit), string(dump.Consent),
		string(dump.SuppressionKey), string(dump.Suppressed), string(dump.RetiredIDs), string(dump.Receipts),
		string(dump.ComputedTraits), string(dump.ComputedValues), string(dump.Facts),
		string(dump.Audiences), string(dump.AudienceMembers), string(dump.AudienceChanges), string(dump.Feed),
		string(dump.Destinations), string(dump.Deliveries)}
	for _, k := range dump.Kinds {
		names = append(names, string(k))
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), "differs"))
		for _, n := range names {
			if len(f) == len(strings.Fields(n))+2 && strings.Join(f[:len(f)-2], " ") == n {
				rows[n] = [2]string{f[len(f)-2], f[len(f)-1]}
			}
		}
		for i, side := range []string{"source", "target"} {
			if len(f) == 4 && f[0]+" "+f[1]+" "+f[2] == "partition sha256, "+side {
				r := rows["partition sha256"]
				r[i] = f[3]
				rows["partition sha256"] = r
			}
		}
	}
	return rows
}

func graphLookup(ctx context.Context, st graph.Store, keys ...string) (map[string]graph.Identifier, error) {
	var out map[string]graph.Identifier
	err := st.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		var err error
		out, err = tx.Identifiers(ctx, keys)
		return err
	})
	return out, err
}

func lastPathPart(p string) string { return p[strings.LastIndex(p, "/")+1:] }

// API keys (revoked, used, expiring), the audit log, consent records,
// the suppression list with its secret, and erasure receipts go embedded
// -> Neo4j -> embedded with every field, as written by hand here.
func TestCopyKeysAuditAndPrivacy(t *testing.T) {
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	ingestEvents(t, dirA, map[string][]string{"a1": {"user_id:u1", "email:a@x.example"}})
	created := time.Date(2026, 2, 1, 9, 30, 0, 123456000, time.UTC)
	keys := []access.Key{
		{ID: "key_a1", Name: "crm import", Scopes: []access.Scope{access.Scope("events:write")}, Source: "crm",
			Hash: sha256Hex("secret a1"), CreatedAt: created, LastUsedAt: created.Add(time.Hour), ExpiresAt: created.Add(90 * 24 * time.Hour)},
		{ID: "key_b2", Name: "analyst", Scopes: []access.Scope{access.Scope("profiles:read"), access.Scope("pii:read")},
			Hash: sha256Hex("secret b2"), CreatedAt: created.Add(time.Minute), RevokedAt: created.Add(2 * time.Hour)},
	}
	audit := []access.AuditEntry{
		{ID: "aud_1", At: created, Action: "createApiKey", KeyName: "", Outcome: access.OutcomeOK, Reason: "setup"},
		{ID: "aud_2", At: created.Add(2 * time.Hour), KeyID: "key_b2", KeyName: "analyst", Action: "mergeProfiles",
			OperationName: "Fix", RequestID: "req-9", ProfileIDs: []string{"p_1", "p_2"}, ProfileCount: 3, Reason: "duplicate", Outcome: "CONFLICT"},
	}
	consent := []privacy.Record{
		{ID: "cns_" + strings.Repeat("a", 32), Purpose: "email", Status: privacy.Status("GRANTED"), At: created, Source: "web",
			LegalBasis: privacy.LegalBasis("CONSENT"), Identifier: "email:a@x.example", ReceivedAt: created.Add(time.Second),
			ExpiresAt: created.Add(365 * 24 * time.Hour), Proof: privacy.Proof{Text: "I agree", Version: "v3", Channel: "web", Collector: "form", EventID: "test/a1"}},
		{ID: "cns_" + strings.Repeat("b", 32), Purpose: "sms", Status: privacy.Status("DENIED"), At: created.Add(time.Minute), Source: "crm",
			LegalBasis: privacy.LegalBasis("LEGITIMATE_INTERESTS"), Identifier: "phone:+15550100", ReceivedAt: created.Add(time.Hour)},
	}
	secret := bytes.Repeat([]byte{7}, privacy.SuppressionKeyLen)
	suppressed := []privacy.Suppression{
		{Hash: strings.Repeat("0f", 32), At: created, Reason: "erased"},
		{Hash: strings.Repeat("e1", 32), At: created.Add(time.Hour)},
	}
	receipts := []privacy.ErasureReceipt{
		{ID: "rcp_" + strings.Repeat("c", 32), At: created.Add(time.Hour), Kind: privacy.ErasureIdentifier, Reason: "request 12",
			KeyID: "key_b2", KeyName: "analyst", Identifiers: 1, Events: 2, ScrubbedEvents: 3, Traits: 4, ConsentRecords: 5, SuppressedHashes: 1},
		{ID: "rcp_" + strings.Repeat("d", 32), At: created.Add(2 * time.Hour), Kind: privacy.ErasureProfile, Reason: "request 13", Identifiers: 2},
	}
	st, err := embedded.Open(dirA)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		storetest.Must(t, st.CreateKey(ctx, k))
	}
	storetest.Must(t, st.AppendAudit(ctx, audit))
	storetest.Must(t, st.PutConsent(ctx, consent))
	// The engine made a secret at its first write; it keys no hash yet,
	// so it is replaced.
	storetest.Must(t, st.PutSuppressionKey(ctx, secret, true))
	storetest.Must(t, st.Suppress(ctx, suppressed))
	storetest.Must(t, st.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		for _, r := range receipts {
			if err := privacy.PutReceiptInTx(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	}))
	idents, err := graphLookup(ctx, st, "user_id:u1")
	storetest.Must(t, err)
	pid := idents["user_id:u1"].ProfileID
	traits := []audience.ComputedTrait{
		{Name: "orders_30d", Description: "orders in 30 days", Aggregate: audience.AggCount, Event: "Order Completed", Window: "P30D",
			CreatedAt: created, UpdatedAt: created.Add(time.Hour)},
		{Name: "last_plan", Aggregate: audience.AggLast, EventType: "identify", Property: "plan", CreatedAt: created.Add(time.Minute), UpdatedAt: created.Add(time.Minute)},
	}
	values := []audience.ComputedValue{
		{ProfileID: pid, Name: "last_plan", Value: "gold", ComputedAt: created.Add(3 * time.Hour)},
		{ProfileID: pid, Name: "orders_30d", Value: int64(4), ComputedAt: created.Add(3 * time.Hour), Expires: created.Add(30 * 24 * time.Hour)},
	}
	facts := audience.Facts{ProfileID: pid, Keys: []string{"email:a@x.example", "user_id:u1"}, Types: []string{"email", "user_id"}}
	for _, c := range traits {
		storetest.Must(t, st.PutComputedTrait(ctx, c))
	}
	storetest.Must(t, st.PutComputedValues(ctx, values))
	storetest.Must(t, st.PutFacts(ctx, []audience.Facts{facts}))
	// An audience that pid entered at t1 with p_other, who left at t2:
	// entries get seq 1 and 2 in the order given, the exit 3.
	aud := audience.Audience{ID: fmt.Sprintf("seg_%032x", 7), Name: "Gold plan", Description: "plan is gold",
		Filter:  audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "gold"}},
		Purpose: "email", CreatedAt: created, UpdatedAt: created.Add(time.Minute)}
	t1, t2 := created.Add(10*time.Minute), created.Add(20*time.Minute)
	storetest.Must(t, st.PutAudience(ctx, aud))
	storetest.Must(t, st.ApplyMembership(ctx, aud.ID, []string{pid, "p_other"}, nil, t1))
	storetest.Must(t, st.ApplyMembership(ctx, aud.ID, nil, []string{"p_other"}, t2))
	storetest.Must(t, st.Close(ctx))

	storetest.OpenNeo4j(t) // the lock, and an empty database
	// Pages of two records: every cursor is used.
	out, errOut, code := copyRun(t, append([]string{"--batch", "2", "--from-data-dir", dirA}, neo4jFlags("to")...)...)
	table := copyTable(out)
	if code != 0 || table["api_keys"] != [2]string{"2", "2"} || table["audit"] != [2]string{"2", "2"} || table["consent"] != [2]string{"2", "2"} ||
		table["suppression_key"] != [2]string{"1", "1"} || table["suppressed"] != [2]string{"2", "2"} || table["receipts"] != [2]string{"2", "2"} ||
		table["computed_traits"] != [2]string{"2", "2"} || table["computed_values"] != [2]string{"2", "2"} || table["facts"] != [2]string{"1", "1"} ||
		table["audiences"] != [2]string{"1", "1"} || table["audience_members"] != [2]string{"1", "1"} || table["audience_changes"] != [2]string{"3", "3"} {
		t.Fatalf("copy to Neo4j: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = copyRun(t, append(neo4jFlags("from"), "--batch", "2", "--to-data-dir", dirB)...)
	if code != 0 || !strings.Contains(out, "match: counts, live profiles, feed head and trimmed, delivery numbers, the partition checksum and the content checksums of") {
		t.Fatalf("copy from Neo4j: exit %d\n%s\n%s", code, out, errOut)
	}
	back, err := embedded.Open(dirB)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close(ctx)
	gotKeys, err := back.Keys(ctx, 10, "")
	storetest.Must(t, err)
	if fmt.Sprint(gotKeys) != fmt.Sprint(keys) {
		t.Errorf("keys after the round trip:\n got  %+v\n want %+v", gotKeys, keys)
	}
	gotAudit, err := back.Audit(ctx, access.AuditQuery{Limit: 10})
	storetest.Must(t, err)
	want := []access.AuditEntry{audit[1], audit[0]} // newest first
	if fmt.Sprint(gotAudit) != fmt.Sprint(want) {
		t.Errorf("audit after the round trip:\n got  %+v\n want %+v", gotAudit, want)
	}
	gotConsent, err := back.ConsentOf(ctx, []string{"email:a@x.example", "phone:+15550100"})
	storetest.Must(t, err)
	if fmt.Sprint(gotConsent) != fmt.Sprint(map[string][]privacy.Record{"email:a@x.example": consent[:1], "phone:+15550100": consent[1:]}) {
		t.Errorf("consent after the round trip: %+v", gotConsent)
	}
	gotSecret, err := back.SuppressionKey(ctx)
	storetest.Must(t, err)
	if !bytes.Equal(gotSecret, secret) {
		t.Errorf("the suppression secret did not survive the round trip")
	}
	gotSuppressed, err := back.SuppressionPage(ctx, "", 10)
	storetest.Must(t, err)
	if fmt.Sprint(gotSuppressed) != fmt.Sprint(suppressed) {
		t.Errorf("suppressed after the round trip:\n got  %+v\n want %+v", gotSuppressed, suppressed)
	}
	gotReceipts, err := back.Receipts(ctx, privacy.ReceiptQuery{Limit: 10})
	storetest.Must(t, err)
	if fmt.Sprint(gotReceipts) != fmt.Sprint([]privacy.ErasureReceipt{receipts[1], receipts[0]}) {
		t.Errorf("receipts after the round trip:\n got  %+v\n want %+v", gotReceipts, receipts)
	}

	gotTraits, err := back.ComputedTraits(ctx)
	storetest.Must(t, err)
	if fmt.Sprint(gotTraits) != fmt.Sprint([]audience.ComputedTrait{traits[1], traits[0]}) { // by name
		t.Errorf("computed traits after the round trip:\n got  %+v\n want %+v", gotTraits, traits)
	}
	gotValues, err := back.ComputedValues(ctx, []string{pid})
	storetest.Must(t, err)
	if fmt.Sprint(gotValues) != fmt.Sprint(map[string]map[string]audience.ComputedValue{pid: {"last_plan": values[0], "orders_30d": values[1]}}) {
		t.Errorf("computed values after the round trip: %+v", gotValues)
	}
	gotFacts, err := back.Facts(ctx, []string{pid})
	storetest.Must(t, err)
	if fmt.Sprint(gotFacts) != fmt.Sprint(map[string]audience.Facts{pid: facts}) {
		t.Errorf("facts after the round trip: %+v", gotFacts)
	}

	gotAud, err := back.Audiences(ctx, []string{aud.ID})
	storetest.Must(t, err)
	wantAud := aud
	wantAud.Size, wantAud.RefreshedAt = 1, t2
	got := gotAud[aud.ID]
	gotFilter, _ := audience.EncodeFilter(got.Filter)
	wantFilter, _ := audience.EncodeFilter(wantAud.Filter)
	got.Filter, wantAud.Filter = audience.Filter{}, audience.Filter{}
	if len(gotAud) != 1 || fmt.Sprint(got) != fmt.Sprint(wantAud) || string(gotFilter) != string(wantFilter) {
		t.Errorf("audience after the round trip:\n got  %+v %s\n want %+v %s", gotAud, gotFilter, wantAud, wantFilter)
	}
	seqs, err := back.AudienceSeqs(ctx, []string{aud.ID})
	storetest.Must(t, err)
	if seqs[aud.ID] != 3 {
		t.Errorf("audience seq after the round trip: %d, want 3", seqs[aud.ID])
	}
	gotMembers, err := back.Members(ctx, aud.ID, audience.Page{Limit: 10})
	storetest.Must(t, err)
	if fmt.Sprint(gotMembers) != fmt.Sprint([]audience.Membership{{AudienceID: aud.ID, ProfileID: pid, Since: t1}}) {
		t.Errorf("audience members after the round trip: %+v", gotMembers)
	}
	gotLog, err := back.Changes(ctx, aud.ID, audience.ChangePage{Limit: 10})
	storetest.Must(t, err)
	wantLog := []audience.Change{
		{AudienceID: aud.ID, ProfileID: "p_other", Kind: audience.Exited, At: t2, Seq: 3},
		{AudienceID: aud.ID, ProfileID: "p_other", Kind: audience.Entered, At: t1, Seq: 2},
		{AudienceID: aud.ID, ProfileID: pid, Kind: audience.Entered, At: t1, Seq: 1},
	}
	if fmt.Sprint(gotLog) != fmt.Sprint(wantLog) {
		t.Errorf("audience log after the round trip:\n got  %+v\n want %+v", gotLog, wantLog)
	}

	// A target that a server opened holds a secret of its own and nothing
	// else: it counts as empty, and its secret is replaced. Once it keys
	// a hash, the secret is kept and the copy refused.
	other := t.TempDir()
	ost, err := embedded.Open(other)
	storetest.Must(t, err)
	_, err = ost.SuppressionKey(ctx) // makes a random one
	storetest.Must(t, err)
	storetest.Must(t, ost.Close(ctx))
	if out, errOut, code := copyRun(t, "--from-data-dir", dirA, "--to-data-dir", other); code != 0 {
		t.Errorf("copy into a store with only a secret of its own: exit %d: %s\n%s", code, out, errOut)
	}
	ost, err = embedded.Open(other)
	storetest.Must(t, err)
	gotSecret, err = ost.SuppressionKey(ctx)
	storetest.Must(t, err)
	storetest.Must(t, ost.Close(ctx))
	if !bytes.Equal(gotSecret, secret) {
		t.Errorf("the target's own secret was not replaced")
	}
	third := t.TempDir()
	tst, err := embedded.Open(third)
	storetest.Must(t, err)
	_, err = tst.SuppressionKey(ctx)
	storetest.Must(t, err)
	storetest.Must(t, tst.Suppress(ctx, []privacy.Suppression{{Hash: strings.Repeat("ab", 32), At: created}}))
	storetest.Must(t, tst.Close(ctx))
	if _, errOut, code := copyRun(t, "--force", "--from-data-dir", dirA, "--to-data-dir", third); code != 1 || !strings.Contains(errOut, "another suppression secret") {
		t.Errorf("copy into a store with another secret keying hashes: exit %d: %s", code, errOut)
	}
}

// copiedDests are the destinations seedDestinations made: one with a
// delivered batch, a dead one and one pending; the other with none.
type copiedDests struct {
	busy, idle string
	cursor     uint64 // busy's cursor
}

// seedDestinations makes two destinations on st through the destination
// contract, as a delivering process would: the first takes three batches
// of the feed (lines as feedLines gives them), the first delivered, the
// second dead after its attempts, the third pending with one failure.
func seedDestinations(t *testing.T, st graph.Store, feed []string) copiedDests {
	t.Helper()
	ctx := context.Background()
	ds := st.(destination.Store)
	fs := st.(graph.FeedStore)
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	mk := func(name string, kinds []graph.FeedKind) destination.Destination {
		d, err := ds.CreateDestination(ctx, destination.Destination{ID: destination.NewID(), Name: name, URL: "https://hooks.example/" + name,
			Secret: "s3cret-" + name + "-0123456789abcdef", Kinds: kinds, BatchSize: 50, MaxAttempts: 3,
			Headers: map[string]string{"X-Team": name}, CreatedAt: now, UpdatedAt: now})
		if err != nil {
			t.Fatalf("create destination %s: %v", name, err)
		}
		return d
	}
	// Created now, both start at the feed's head: rewind the busy one
	// with a load of its definition, as a copy would write it.
	busy, idle := mk("busy", nil), mk("idle", []graph.FeedKind{graph.FeedMerged})
	busy.Cursor = 0
	if err := st.(destination.Loader).LoadDestinations(ctx, []destination.Destination{busy}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ds.AcquireLease(ctx, busy.ID, "proc-a", now, time.Hour); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	es, err := fs.Feed(ctx, 0, nil, 30)
	if err != nil || len(es) < 30 {
		t.Fatalf("read the feed: %d entries, %v", len(es), err)
	}
	cursor := uint64(0)
	outcomes := []destination.Outcome{
		{Status: destination.Delivered, Attempts: 1, LastStatusCode: 200},
		{Status: destination.Dead, Attempts: 3, LastStatusCode: 410, LastError: "gone"},
		{Status: destination.Failed, Attempts: 1, LastStatusCode: 503, LastError: "unavailable"},
	}
	for i, o := range outcomes {
		batch := es[i*10 : i*10+10]
		d, made, err := ds.TakeBatch(ctx, busy.ID, "proc-a", cursor, batch[9].Seq, batch, now.Add(time.Duration(i)*time.Minute))
		if err != nil || !made || d.Number != uint64(i+1) {
			t.Fatalf("take batch %d: %+v %v %v", i, d, made, err)
		}
		cursor = batch[9].Seq
		o.At = now.Add(time.Duration(i)*time.Minute + time.Second)
		o.NextAttempt = o.At.Add(time.Minute)
		if err := ds.RecordAttempt(ctx, busy.ID, "proc-a", d.Number, o); err != nil {
			t.Fatalf("record attempt %d: %v", i, err)
		}
	}
	return copiedDests{busy: busy.ID, idle: idle.ID, cursor: cursor}
}

// destinationLines reads every destination of st (lease left out) and
// every delivery, a line each.
func destinationLines(t *testing.T, st graph.Store) []string {
	t.Helper()
	ctx := context.Background()
	ds := st.(destination.Store)
	page, err := ds.DestinationPage(ctx, "", destination.MaxPage)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range page {
		d.Lease = destination.Lease{}
		out = append(out, fmt.Sprintf("%+v", d))
		dels, err := ds.Deliveries(ctx, destination.DeliveryQuery{DestinationID: d.ID, Limit: destination.MaxPage})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range dels {
			out = append(out, fmt.Sprintf("%+v", x))
		}
	}
	return out
}

// checkCopiedDestinations checks on a copy what seedDestinations did on
// the source: the busy destination is free, resumes at its cursor with
// its pending batch in flight, numbers its next batch 4 and can replay
// its dead letter; the idle one has no delivery.
func checkCopiedDestinations(t *testing.T, st graph.Store, want copiedDests) {
	t.Helper()
	ctx := context.Background()
	ds := st.(destination.Store)
	now := time.Date(2026, 5, 4, 11, 0, 0, 0, time.UTC)
	busy, err := ds.Destination(ctx, want.busy)
	if err != nil {
		t.Fatal(err)
	}
	if busy.Cursor != want.cursor || busy.Lease.Holder != "" || busy.Secret != "s3cret-busy-0123456789abcdef" || busy.Headers["X-Team"] != "busy" {
		t.Errorf("the copied destination: cursor %d (want %d), lease %q (want none), secret or headers not as made", busy.Cursor, want.cursor, busy.Lease.Holder)
	}
	d, ok, err := ds.InFlight(ctx, want.busy)
	if err != nil || !ok || d.Number != 3 || d.Status != destination.Failed || d.Attempts != 1 || d.LastError != "unavailable" || len(d.Entries) != 10 {
		t.Errorf("the copy's delivery in flight: number %d, %s, %d attempts, %d entries, %v %v; want number 3, FAILED, 1 attempt, 10 entries",
			d.Number, d.Status, d.Attempts, len(d.Entries), ok, err)
	}
	if dead, err := ds.Deliveries(ctx, destination.DeliveryQuery{DestinationID: want.busy, Status: destination.Dead, Limit: 10}); err != nil ||
		len(dead) != 1 || dead[0].Number != 2 || dead[0].LastStatusCode != 410 {
		t.Errorf("the copy's dead letters: %d, %v, want one, number 2 with 410", len(dead), err)
	}
	if done, err := ds.Deliveries(ctx, destination.DeliveryQuery{DestinationID: want.busy, Status: destination.Delivered, Limit: 10}); err != nil ||
		len(done) != 1 || done[0].Number != 1 || done[0].EntryCount != 10 || len(done[0].Entries) != 0 {
		t.Errorf("the copy's delivered batches: %d, %v, want one, number 1 with a count of 10 and no entries", len(done), err)
	}
	if _, ok, err := ds.AcquireLease(ctx, want.busy, "proc-b", now, time.Hour); err != nil || !ok {
		t.Fatalf("a process of the copy takes the lease: %v %v", ok, err)
	}
	if err := ds.RecordAttempt(ctx, want.busy, "proc-b", 3, destination.Outcome{Status: destination.Delivered, Attempts: 2, LastStatusCode: 200, At: now}); err != nil {
		t.Fatalf("deliver the batch in flight on the copy: %v", err)
	}
	es, err := st.(graph.FeedStore).Feed(ctx, want.cursor, nil, 5)
	if err != nil || len(es) != 5 {
		t.Fatalf("read the copy's feed after the cursor: %d, %v", len(es), err)
	}
	next, made, err := ds.TakeBatch(ctx, want.busy, "proc-b", want.cursor, es[4].Seq, es, now)
	if err != nil || !made || next.Number != 4 {
		t.Errorf("the copy's next batch: number %d, %v %v, want 4", next.Number, made, err)
	}
	if n, err := ds.ReplayDead(ctx, want.busy, now, 10); err != nil || n != 1 {
		t.Errorf("replay the copied dead letter: %d, %v, want 1", n, err)
	}
	if dels, err := ds.Deliveries(ctx, destination.DeliveryQuery{DestinationID: want.idle, Limit: 10}); err != nil || len(dels) != 0 {
		t.Errorf("the idle destination's copy has %d deliveries, %v", len(dels), err)
	}
}
