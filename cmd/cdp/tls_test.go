package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/internal/storetest"
)

// `cdp serve` on a neo4j+s:// URI, trusting the dev instance's self-signed
// certificate through --neo4j-ca-file (NEO4J_CA_FILE): an event sent to
// the collector is resolved into Neo4j over TLS and read back through
// GraphQL. Without the CA file, start-up stops at once, naming the
// untrusted certificate, though --store-timeout would let it wait ten
// minutes for an unreachable Neo4j.
func TestServeOverTLS(t *testing.T) {
	ca := storetest.DevCAFile(t)
	storetest.OpenNeo4j(t) // the test lock, and an empty database
	cfg := storetest.Neo4jConfigAs(t, "neo4j+s")
	uri := cfg.URI
	env := []string{"NEO4J_URI=" + uri, "NEO4J_USER=" + cfg.User, "NEO4J_PASSWORD=" + cfg.Password}

	_, addr, logs := startServe(t, t.TempDir(), append(env, "NEO4J_CA_FILE="+ca)...)
	body, _ := json.Marshal(map[string]any{"batch": []map[string]any{
		{"type": "identify", "messageId": "tls-1", "userId": "tls-user", "traits": map[string]any{"email": "tls@example.com"}},
	}})
	resp, err := http.Post("http://"+addr+"/v1/batch", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("batch over %s: status %d; logs:\n%s", uri, resp.StatusCode, logs.String())
	}
	data := postGraphQL(t, addr, `{ profileByIdentifier(type: "email", value: "tls@example.com") { identifiers { type value } } }`, nil)
	p, _ := data["profileByIdentifier"].(map[string]any)
	ids, _ := p["identifiers"].([]any)
	got := map[string]bool{}
	for _, i := range ids {
		m, _ := i.(map[string]any)
		got[m["type"].(string)+":"+m["value"].(string)] = true
	}
	if len(got) != 2 || !got["user_id:tls-user"] || !got["email:tls@example.com"] {
		t.Fatalf("profile of tls@example.com over %s lists %v, want user_id:tls-user and email:tls@example.com", uri, got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--store-timeout", "10m")
	cmd.Env = cleanEnv(env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("cdp serve waited on an untrusted certificate; stderr:\n%s", stderr.String())
	}
	if err == nil || !strings.Contains(stderr.String(), "TLS certificate is not trusted") {
		t.Fatalf("cdp serve without the CA file: %v; stderr:\n%s\nwant a non-zero exit naming the untrusted certificate", err, stderr.String())
	}
}
