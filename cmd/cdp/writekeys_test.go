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
	for _, bad := range []string{"k=a/b", "k=/", "k=crm shop", "k=-x", "k=manual", "k=rules", "k=Manual"} {
		if _, err := parseWriteKeys(bad); err == nil || !strings.Contains(err.Error(), "source name") {
			t.Errorf("parseWriteKeys(%q) = %v, want an error naming the source", bad, err)
		}
	}
}

// TestWriteKeyErrorsHideTheKeys: a write key is a secret of its source (a
// server's key lets anyone post events as that source), and the error that
// stops cdp serve at start reaches its logs: an entry without a source
// (KEY=) is named by its position, never repeated.
func TestWriteKeyErrorsHideTheKeys(t *testing.T) {
	for _, c := range []struct{ in, says string }{
		{"wk-live-7f3a=web,wk-srv-secret-9=", "entry 2"},
		{"wk-srv-secret-9= ,k2=crm", "entry 1"},
		{"k1=web,=crm", "entry 2"},
	} {
		_, err := parseWriteKeys(c.in)
		if err == nil {
			t.Errorf("parseWriteKeys(%q) accepted it", c.in)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "wk-") || strings.Contains(msg, "k1") || !strings.Contains(msg, c.says) || !strings.Contains(msg, "KEY=SOURCE") {
			t.Errorf("parseWriteKeys(%q) = %q; want it naming %s and the KEY=SOURCE form, repeating no key", c.in, msg, c.says)
		}
	}
}
