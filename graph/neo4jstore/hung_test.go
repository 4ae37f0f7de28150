package neo4jstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// freezer is a TCP proxy to Neo4j that can stop passing bytes, both ways,
// on its connections old and new, while keeping them open: a frozen
// server, or a network that drops packets.
type freezer struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	conns  []net.Conn
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target}
	f.cond = sync.NewCond(&f.mu)
	go f.serve()
	t.Cleanup(f.close)
	return f
}

func (f *freezer) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", f.target)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, c, up)
		f.mu.Unlock()
		go f.pipe(c, up)
		go f.pipe(up, c)
	}
}

// pipe copies src to dst, holding each chunk while frozen.
func (f *freezer) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.mu.Lock()
			for f.frozen {
				f.cond.Wait()
			}
			f.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}

func (f *freezer) freeze(on bool) {
	f.mu.Lock()
	f.frozen = on
	f.cond.Broadcast()
	f.mu.Unlock()
}

func (f *freezer) close() {
	f.freeze(false)
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
}

// A Neo4j that accepts connections but answers nothing is found down once
// every probe has been late for the hung time, and calls then fail at once
// with UNAVAILABLE instead of waiting out the driver; when it answers
// again it is found up by itself.
func TestHungNeo4jIsFoundDown(t *testing.T) {
	storetest.OpenNeo4j(t) // the test lock, and a reachable Neo4j
	defer neo4jstore.SetHungAfter(3 * time.Second)()
	cfg := storetest.Neo4jConfig()
	scheme, hostport, _ := strings.Cut(cfg.URI, "://")
	f := newFreezer(t, hostport)
	cfg.URI = scheme + "://" + f.ln.Addr().String()
	avail := make(chan bool, 16)
	cfg.OnAvailability = func(up bool, _ error) { avail <- up }
	ctx := context.Background()
	s, err := neo4jstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	begin := time.Now()
	f.freeze(true)
	select {
	case up := <-avail:
		if up {
			t.Fatal("reported up while frozen")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a frozen Neo4j was not found down within 60 s")
	}
	t.Logf("down after %s", time.Since(begin))
	err = s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		_, err := tx.Identifiers(ctx, []string{"user_id:u1"})
		return err
	})
	if graph.ErrorCode(err) != graph.EUNAVAILABLE {
		t.Fatalf("a read while found down: %v, want UNAVAILABLE", err)
	}

	t.Logf("read refused after %s", time.Since(begin))
	f.freeze(false)
	select {
	case up := <-avail:
		if !up {
			t.Fatal("reported down again after thawing")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Neo4j answering again was not found up within 60 s")
	}
	t.Logf("up after %s", time.Since(begin))
}

// A write whose transaction is under way when Neo4j stops answering gives
// up with UNAVAILABLE once Neo4j is found down, whether it runs through
// Update (the collector's commits) or the writes of keys, audiences and
// the like: a statement waiting on the frozen connection does not wait
// for Neo4j to answer again.
func TestWriteUnderWayOnAHungNeo4j(t *testing.T) {
	storetest.OpenNeo4j(t)
	defer neo4jstore.SetHungAfter(3 * time.Second)()
	cfg := storetest.Neo4jConfig()
	scheme, hostport, _ := strings.Cut(cfg.URI, "://")
	for _, path := range []string{"Update", "accessWrite"} {
		t.Run(path, func(t *testing.T) {
			f := newFreezer(t, hostport)
			cfg := cfg
			cfg.URI = scheme + "://" + f.ln.Addr().String()
			down := make(chan struct{})
			var once sync.Once
			cfg.OnAvailability = func(up bool, _ error) {
				if !up {
					once.Do(func() { close(down) })
				}
			}
			ctx := context.Background()
			s, err := neo4jstore.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			freeze := func() { f.freeze(true) }
			done := make(chan error, 1)
			go func() {
				if path == "accessWrite" {
					done <- neo4jstore.AccessWriteAround(ctx, s, freeze)
					return
				}
				done <- s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
					if _, err := tx.Identifiers(ctx, []string{"user_id:u1"}); err != nil {
						return err
					}
					freeze()
					_, err := tx.Identifiers(ctx, []string{"user_id:u2"})
					return err
				})
			}()
			select {
			case <-down:
			case <-time.After(60 * time.Second):
				t.Fatal("a frozen Neo4j was not found down within 60 s")
			}
			// Found down: the write gives up now, not once Neo4j answers.
			select {
			case err := <-done:
				if graph.ErrorCode(err) != graph.EUNAVAILABLE {
					t.Fatalf("the write under way: %v; want UNAVAILABLE", err)
				}
			case <-time.After(time.Minute):
				f.freeze(false)
				t.Fatalf("the write under way still waits a minute after Neo4j was found down (returned %v once thawed)", <-done)
			}
		})
	}
}
