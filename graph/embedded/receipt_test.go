package embedded_test

import (
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy/receipttest"
)

func TestReceiptConformance(t *testing.T) { receipttest.Run(t, storetest.Embedded) }
