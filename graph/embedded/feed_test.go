package embedded_test

import (
	"testing"

	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

func TestFeed(t *testing.T) { graphtest.RunFeed(t, storetest.Embedded) }
