package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/resolver"
	"github.com/idgraph/cdp/server"
)

// service is the real server, wired as `cdp serve` wires it, in this
// process on a loopback port chosen by the kernel.
type service struct {
	engine *graph.Engine
	coll   *ingest.Collector
	srv    *server.Server
	errc   chan error
	url    string
}

// serviceConfig holds the collector settings, the defaults of `cdp serve`.
type serviceConfig struct {
	maxBatch   int
	queueSize  int
	committers int
	log        zerolog.Logger
}

func startService(store graph.Store, rules *graph.Rules, cfg serviceConfig) (*service, error) {
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	engine := graph.NewEngine(store, rules)
	coll := ingest.New(engine, ingest.Config{
		MaxBatch:   cfg.maxBatch,
		MaxWait:    ingest.DefaultMaxWait,
		QueueSize:  cfg.queueSize,
		Committers: cfg.committers,
		Logger:     cfg.log,
		Registerer: reg,
	})
	gql := resolver.NewHandler(engine, coll, resolver.Config{Logger: cfg.log})
	srv := server.New(server.Config{Addr: ln.Addr().String(), Logger: cfg.log, Gatherer: reg}, ln, store, server.Routes{Collector: coll.Handler(), GraphQL: gql})
	s := &service{engine: engine, coll: coll, srv: srv, errc: make(chan error, 1), url: "http://" + srv.Addr()}
	go func() { s.errc <- srv.Serve() }()
	return s, nil
}

// stop shuts the server down as `cdp serve` does: requests in flight, then
// pending writes. The store stays open.
func (s *service) stop(ctx context.Context) error {
	shutdownErr := s.srv.Shutdown(ctx)
	closeErr := s.coll.Close(ctx)
	serveErr := <-s.errc
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	if err := errors.Join(shutdownErr, closeErr, serveErr); err != nil {
		return fmt.Errorf("stopping the server: %w", err)
	}
	return nil
}
