package bench

import (
	"net"
	"net/url"
	"time"
)

// reachable dials the Bolt port of uri.
func reachable(uri string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}
