package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/server"
)

// The service trims feed entries past their retention, on both stores,
// and keeps them all with a negative retention.
func TestFeedRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, store graph.Store) {
		fs := store.(graph.FeedStore)
		run := func(retention time.Duration, msg string) (*app.Service, string) {
			t.Helper()
			ln, err := server.Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cfg := app.Defaults()
			cfg.Store, cfg.Listener = store, ln
			cfg.Feed = app.FeedConfig{Retention: retention, TrimEvery: 20 * time.Millisecond}
			svc, err := app.New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			svc.Start()
			base := "http://" + svc.Server.Addr()
			if code, body := post(t, base+"/v1/track", "k", `{"messageId":"`+msg+`","userId":"u-`+msg+`","event":"Viewed"}`); code != http.StatusOK {
				t.Fatalf("track: %d %s", code, body)
			}
			return svc, base
		}
		entries := func() int {
			es, err := fs.Feed(context.Background(), 0, nil, 100)
			if err != nil {
				t.Fatal(err)
			}
			return len(es)
		}
		// Kept forever: the entry is there after many trim rounds.
		svc, _ := run(-1, "m1")
		time.Sleep(200 * time.Millisecond)
		if n := entries(); n != 1 {
			t.Fatalf("with retention off, %d entries, want 1", n)
		}
		if err := svc.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		// A retention of 1 ns: every entry is past it by the next round.
		svc, _ = run(time.Nanosecond, "m2")
		defer svc.Close(context.Background())
		deadline := time.Now().Add(keptLimit)
		for entries() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("entries past their retention were not trimmed: %d left", entries())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if h, err := fs.FeedHead(context.Background()); err != nil || h != 2 {
			t.Fatalf("FeedHead after trimming = %d, %v; want 2 (trimming keeps the sequence)", h, err)
		}
	})
}
