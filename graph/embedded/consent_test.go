package embedded_test

import (
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy/consenttest"
)

func TestConsentConformance(t *testing.T) { consenttest.Run(t, storetest.Embedded) }
