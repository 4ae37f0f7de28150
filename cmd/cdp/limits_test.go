package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestServeLimitsFlags: the selection and response limits come from their
// environment variables (or flags), and a loopback server refuses a foreign
// Host.
func TestServeLimitsFlags(t *testing.T) {
	_, addr, _ := startServe(t, t.TempDir(), "CDP_MAX_SELECTIONS=5", "CDP_MAX_RESPONSE_BYTES=300")
	post := func(query, host string) (int, map[string]any) {
		t.Helper()
		body, err := json.Marshal(map[string]any{"query": query})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest("POST", "http://"+addr+"/graphql", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, raw)
		}
		return resp.StatusCode, m
	}
	code := func(m map[string]any) string {
		errs, _ := m["errors"].([]any)
		if len(errs) == 0 {
			return ""
		}
		e, _ := errs[0].(map[string]any)
		ext, _ := e["extensions"].(map[string]any)
		c, _ := ext["code"].(string)
		return c
	}
	if status, m := post(`{ profiles(first: 1) { totalCount nodes { id size } } }`, ""); status != 200 || code(m) != "" {
		t.Fatalf("4 selections: %d %v", status, m)
	}
	if status, m := post(`{ profiles(first: 1) { totalCount nodes { id size createdAt updatedAt } } }`, ""); status != 422 || code(m) != "QUERY_TOO_LARGE" {
		t.Fatalf("6 selections with CDP_MAX_SELECTIONS=5: %d %v", status, m)
	}
	if status, m := post(`{ __schema { types { name } } }`, ""); status != 200 || code(m) != "RESPONSE_TOO_LARGE" {
		t.Fatalf("the schema's type names with CDP_MAX_RESPONSE_BYTES=300: %d %v", status, m)
	}
	if status, m := post(`{ profiles(first: 1) { totalCount } }`, "evil.example:8080"); status != 421 || !strings.Contains(m["error"].(string), "DNS rebinding") {
		t.Fatalf("foreign Host: %d %v", status, m)
	}
}

func TestServeLimitsFlagsRefused(t *testing.T) {
	for _, env := range []string{"CDP_MAX_SELECTIONS=0", "CDP_MAX_RESPONSE_BYTES=-1"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
		cmd.Env = cleanEnv(env)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		if err == nil || !strings.Contains(stderr.String(), "--max-selections and --max-response-bytes must be at least 1") {
			t.Errorf("%s: err %v, stderr %q", env, err, stderr.String())
		}
	}
}
