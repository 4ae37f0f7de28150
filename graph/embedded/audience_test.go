package embedded_test

import (
	"testing"

	"github.com/idgraph/cdp/audience/audiencetest"
	"github.com/idgraph/cdp/internal/storetest"
)

func TestAudienceConformance(t *testing.T) { audiencetest.Run(t, storetest.Embedded) }
