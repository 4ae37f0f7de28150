package bench

import (
	"context"
	"fmt"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/privacy"
	"github.com/idgraph/cdp/server"
)

// writeKey is the write key the bench's clients send, configured in the
// service as `cdp serve --write-keys bench=bench` would.
const writeKey = "bench"

// service is the real server, built by app.New exactly as `cdp serve`
// builds it, in this process on a loopback port chosen by the kernel.
type service struct {
	*app.Service
	url string
}

// startService starts the service on store with the defaults of
// `cdp serve`, but for the group-commit settings of cfg.
func startService(ctx context.Context, store graph.Store, rules *graph.Rules, cfg Config) (*service, error) {
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := app.Defaults()
	c.Store, c.Rules, c.Listener, c.Logger = store, rules, ln, cfg.Log
	c.Collector.MaxBatch = cfg.ServerBatch
	c.Collector.QueueSize = cfg.QueueSize
	c.Collector.Committers = cfg.Committers
	c.Collector.WriteKeys = map[string]string{writeKey: "bench"}
	// The lookups run back to back, faster than a key's default rate
	// limit: the limiter runs but never refuses.
	c.Auth.RateLimit, c.Auth.Burst = 1e6, 1e6
	if t, ok := store.(*timedStore); ok {
		// The timing wrapper hides the store's API keys: read them under it.
		c.Keys, _ = t.Store.(access.Store)
		c.Audiences, _ = t.Store.(audience.Store)
		c.Consent, _ = t.Store.(privacy.ConsentStore)
	}
	svc, err := app.New(ctx, c)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	svc.Start()
	return &service{Service: svc, url: "http://" + svc.Server.Addr()}, nil
}

// stop shuts the server down as `cdp serve` does: requests in flight, then
// pending writes. The store stays open.
func (s *service) stop(ctx context.Context) error {
	if err := s.Close(ctx); err != nil {
		return fmt.Errorf("stopping the server: %w", err)
	}
	return nil
}
