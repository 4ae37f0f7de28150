package resolver

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/idgraph/cdp/internal/feedhub"
)

// TestEndMessageHidesStoreErrors: a subscriber told its subscription
// ended reads the reasons the hub and this package give as they are, but a
// store's own error only as "the change feed could not be read": it may
// name the database's hosts and files.
func TestEndMessageHidesStoreErrors(t *testing.T) {
	store := fmt.Errorf("%w: %v", feedhub.ErrUnavailable, errors.New("neo4j: Neo4jError: Neo.DatabaseError.General.UnknownError (host db-7.internal:7687 /var/lib/neo4j/data)"))
	for reason, want := range map[error]string{
		store:                  "the change feed could not be read; resume with changes(after: \"c\")",
		feedhub.ErrSlow:        feedhub.ErrSlow.Error() + "; resume with changes(after: \"c\")",
		feedhub.ErrClosed:      "the server is shutting down; resume with changes(after: \"c\")",
		errKeyRevoked:          errKeyRevoked.Error() + "; resume with changes(after: \"c\")",
		errors.New("surprise"): "the change feed could not be read; resume with changes(after: \"c\")",
	} {
		got := endMessage(reason, "c")
		if got != want || strings.Contains(got, "db-7") {
			t.Errorf("endMessage(%v) = %q, want %q", reason, got, want)
		}
	}
}
