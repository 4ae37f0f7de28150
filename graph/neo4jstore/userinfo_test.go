package neo4jstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// A user name or password written into the URI is not what Open
// authenticates with (Config.User and Config.Password are): Open refuses
// such a URI as a wrong configuration, at once (not EUNAVAILABLE, so no
// caller waits for it), without repeating the password, rather than
// connecting without credentials. The dev Neo4j runs without
// authentication, where the URI's credentials would otherwise go unseen.
func TestOpenRefusesUserInfoInTheURI(t *testing.T) {
	storetest.OpenNeo4j(t) // the test lock, and a Neo4j that answers
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const pw = "Pw-2d7a-never-shown"
	cfg := storetest.Neo4jConfig()
	scheme, hostport, _ := strings.Cut(cfg.URI, "://")
	for _, uri := range []string{
		scheme + "://ann:" + pw + "@" + hostport, // the dev Neo4j: it answers
		scheme + "://" + pw + "@" + hostport,
		"bolt://ann:" + pw + "@127.0.0.1:1", // nothing listens
	} {
		c := cfg
		c.URI = uri
		s, err := neo4jstore.Open(ctx, c)
		if err == nil {
			_ = s.Close(ctx)
			t.Errorf("Open of a URI holding user information succeeded")
			continue
		}
		msg := err.Error()
		if graph.ErrorCode(err) == graph.EUNAVAILABLE || !strings.Contains(msg, "user information") || strings.Contains(msg, pw) {
			t.Errorf("Open: %v (code %s); want a configuration error naming the user information, without the password", err, graph.ErrorCode(err))
		}
	}
}
