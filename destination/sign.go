package destination

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Signature headers.
const (
	HeaderSignature  = "X-CDP-Signature"
	HeaderDeliveryID = "X-CDP-Delivery-Id"
)

// Sign returns the X-CDP-Signature value of body sent at at:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
// Receivers recompute it from the raw body and compare in constant time.
func Sign(secret string, at time.Time, body []byte) string {
	t := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
