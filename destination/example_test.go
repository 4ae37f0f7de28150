package destination_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idgraph/cdp/destination"
)

// receiverVerify is the receiver's check shown in the README: the signature over
// the raw body, and a timestamp no older than five minutes.
func receiverVerify(secret string, body []byte, header string, now time.Time) bool {
	ts, sig, ok := strings.Cut(header, ",v1=")
	t, err := strconv.ParseInt(strings.TrimPrefix(ts, "t="), 10, 64)
	if !ok || err != nil || now.Sub(time.Unix(t, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", t, body)
	return hmac.Equal([]byte(sig), []byte(hex.EncodeToString(mac.Sum(nil))))
}

// A receiver verifies X-CDP-Signature with the destination's secret.
func ExampleSign() {
	sent := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
	body := []byte(`{"deliveryId":"dlv_0123","entries":[]}`)
	header := destination.Sign("the-destination-secret", sent, body)
	fmt.Println(receiverVerify("the-destination-secret", body, header, sent.Add(time.Second)))
	fmt.Println(receiverVerify("another-secret-entirely", body, header, sent.Add(time.Second)))
	fmt.Println(receiverVerify("the-destination-secret", []byte(`{"tampered":true}`), header, sent.Add(time.Second)))
	fmt.Println(receiverVerify("the-destination-secret", body, header, sent.Add(time.Hour)))
	// Output:
	// true
	// false
	// false
	// false
}
