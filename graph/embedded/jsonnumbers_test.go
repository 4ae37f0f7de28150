package embedded_test

import (
	"testing"

	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

func TestJSONNumbers(t *testing.T) { graphtest.RunJSONNumbers(t, storetest.Embedded) }
