package main

import (
	"strings"
	"testing"
)

// TestWriteKeySources: a source name becomes the prefix of its events' ids
// ("<source>/<messageId>"), so one holding a "/" is refused at start.
func TestWriteKeySources(t *testing.T) {
	keys, err := parseWriteKeys("k1=web, k2=crm.eu-1 ,k3")
	if err != nil || keys["k1"] != "web" || keys["k2"] != "crm.eu-1" || keys["k3"] != "default" {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for _, bad := range []string{"k=a/b", "k=/", "k=crm shop", "k=-x"} {
		if _, err := parseWriteKeys(bad); err == nil || !strings.Contains(err.Error(), "source name") {
			t.Errorf("parseWriteKeys(%q) = %v, want an error naming the source", bad, err)
		}
	}
}
