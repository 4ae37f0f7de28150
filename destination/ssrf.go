package destination

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/idgraph/cdp/graph"
)

// Server-side request forgery: a destination's URL is chosen by a caller,
// and the server POSTs to it from inside the network. Unless private
// addresses are allowed (`cdp serve --destinations-allow-private`), a URL
// whose host resolves to a loopback, private, link-local, multicast,
// unspecified, shared (100.64.0.0/10) or broadcast address is refused when
// the destination is saved (CheckURL), and every connection is checked
// again on the address actually dialed (DialControl), so a name that
// resolves elsewhere later, or a rebinding DNS answer, reaches nothing
// private either.

// ParseURL parses a destination URL: absolute http or https, with a host,
// no credentials and no fragment, at most MaxURLLen bytes.
func ParseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("is missing")
	}
	if len(raw) > MaxURLLen {
		return nil, fmt.Errorf("is longer than %d bytes", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("must use http or https")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, errors.New("must be an absolute URL with a host")
	case u.User != nil:
		return nil, errors.New("must not hold credentials; send them in headers")
	case u.Fragment != "":
		return nil, errors.New("must not hold a fragment")
	}
	return u, nil
}

// ShownURL is a destination URL as answers show it: without what may hold
// a credential. A query string becomes "?…" (webhook receivers often take
// their token there), and so would a fragment; credentials, which ParseURL
// refuses, would become "…@". Scheme, host, port and path stay, so two
// destinations can be told apart. The stored URL, whole, is what is
// delivered to.
func ShownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return "(not a URL)"
	}
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	if u.User != nil {
		b.WriteString("…@")
	}
	b.WriteString(u.Host)
	b.WriteString(u.EscapedPath())
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteString("?…")
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		b.WriteString("#…")
	}
	return b.String()
}

// HoldsShownQuery reports whether raw's query is the "…" ShownURL puts in
// place of a query: such a URL was copied from an answer, and delivering
// to it would lose the query it stands for.
func HoldsShownQuery(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	q, err := url.QueryUnescape(u.RawQuery)
	return err == nil && q == "…"
}

var (
	sharedSpace  = netip.MustParsePrefix("100.64.0.0/10")
	thisNetwork  = netip.MustParsePrefix("0.0.0.0/8")
	broadcast    = netip.MustParseAddr("255.255.255.255")
	benchmarking = netip.MustParsePrefix("198.18.0.0/15")
	reserved4    = netip.MustParsePrefix("240.0.0.0/4")
	siteLocal    = netip.MustParsePrefix("fec0::/10")
	// IPv6 forms that carry an IPv4 address, which is what they reach:
	// NAT64 (the well-known prefix), IPv4-compatible (deprecated), 6to4
	// and Teredo (whose client address is stored inverted).
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	v4Compat   = netip.MustParsePrefix("::/96")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	teredo     = netip.MustParsePrefix("2001::/32")
)

// Blocked says why a is not a public address, "" when it is. An IPv6
// address that carries an IPv4 one (NAT64, IPv4-compatible, 6to4,
// Teredo) is judged by the IPv4 address it reaches.
func Blocked(a netip.Addr) string {
	a = a.Unmap()
	if why := blockedAddr(a); why != "" {
		return why
	}
	if !a.Is6() {
		return ""
	}
	b := a.As16()
	var inner []netip.Addr
	switch {
	case nat64Local.Contains(a):
		return "a local-use NAT64 address"
	case nat64.Contains(a), v4Compat.Contains(a):
		inner = append(inner, netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		inner = append(inner, netip.AddrFrom4([4]byte(b[2:6])))
	case teredo.Contains(a):
		inner = append(inner, netip.AddrFrom4([4]byte(b[4:8])),
			netip.AddrFrom4([4]byte{b[12] ^ 0xff, b[13] ^ 0xff, b[14] ^ 0xff, b[15] ^ 0xff}))
	}
	for _, v4 := range inner {
		if why := blockedAddr(v4); why != "" {
			return why + " (carried in " + a.String() + ")"
		}
	}
	return ""
}

// blockedAddr is Blocked for a itself, whatever it carries.
func blockedAddr(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "an invalid address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast():
		return "a link-local address"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "a multicast address"
	case a.IsUnspecified(), thisNetwork.Contains(a):
		return "an unspecified address"
	case sharedSpace.Contains(a):
		return "a shared (carrier-grade NAT) address"
	case a == broadcast:
		return "a broadcast address"
	case benchmarking.Contains(a):
		return "a benchmarking address"
	case reserved4.Contains(a):
		return "a reserved address"
	case siteLocal.Contains(a):
		return "a site-local address"
	}
	return ""
}

// ErrBlocked is returned by a connection refused by DialControl.
var ErrBlocked = errors.New("destination: the address is not public and private addresses are not allowed")

// DialControl is a net.Dialer Control that refuses to connect to an
// address Blocked names.
func DialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrBlocked, err)
	}
	if why := Blocked(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is %s", ErrBlocked, ap.Addr(), why)
	}
	return nil
}

// Resolver looks host names up; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckURL checks raw as ParseURL does and, unless allowPrivate, that every
// address its host resolves to (through r, nil for net.DefaultResolver) is
// public. Errors are EINVALID and name field.
//
// A host given as an address is refused naming it and saying what kind of
// address it is (the caller wrote it: that tells nothing of the network).
// A host name that does not resolve, or resolves to any address that is
// not public, is refused with one message that names neither the address
// nor which of the two it is: otherwise a caller could map the server's
// internal DNS (which names exist, and where they point) one destination
// at a time.
func CheckURL(ctx context.Context, field, raw string, allowPrivate bool, r Resolver) error {
	u, err := ParseURL(raw)
	if err != nil {
		return graph.Errorf(graph.EINVALID, "%s %v", field, err)
	}
	// url.Parse takes any digits as a port, and no connection can be made
	// to port 0 or past 65535: every delivery would fail. Checked here,
	// when a destination is saved, and not in ParseURL, so that a store
	// holding such a URL from before still loads and copies.
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return graph.Errorf(graph.EINVALID, "%s has port %s, which is not a port number from 1 to 65535", field, clipPort(p))
		}
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if why := Blocked(a); why != "" {
			return graph.Errorf(graph.EINVALID, "%s: its host %s is %s, which is refused: %s", field, a.Unmap(), why, publicOnly)
		}
		return nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	refused := err != nil || len(addrs) == 0
	for _, a := range addrs {
		refused = refused || Blocked(a) != ""
	}
	if refused {
		return graph.Errorf(graph.EINVALID, "%s: %s", field, HostNotPublic)
	}
	return nil
}

// clipPort is a port as an error shows it: at most 10 digits.
func clipPort(p string) string {
	if len(p) > 10 {
		return p[:10] + "…"
	}
	return p
}

// HostNotPublic is CheckURL's refusal of a host name that does not resolve
// or resolves to an address that is not public: the same words for both.
const HostNotPublic = "the URL's host must resolve to public addresses only: " + publicOnly

const publicOnly = "destinations must be public unless the server runs with --destinations-allow-private"
