package access

import "context"

// Principal is who makes a request: the API key it authenticated with, or
// nobody in open mode (a loopback server with no key stored), where the
// caller holds every scope.
type Principal struct {
	// Key is the authenticated key; nil in open mode.
	Key *Key
	// Open marks open mode: every scope, pii:read included.
	Open bool
}

// OpenPrincipal is the caller of a server in open mode.
func OpenPrincipal() Principal { return Principal{Open: true} }

// KeyPrincipal is a caller authenticated with k.
func KeyPrincipal(k Key) Principal { return Principal{Key: &k} }

// Has reports whether p holds s.
func (p Principal) Has(s Scope) bool {
	if p.Open {
		return true
	}
	return p.Key != nil && p.Key.HasScope(s)
}

// KeyID is the key's id, or "" in open mode.
func (p Principal) KeyID() string {
	if p.Key == nil {
		return ""
	}
	return p.Key.ID
}

// KeyName is the key's name, or "" in open mode.
func (p Principal) KeyName() string {
	if p.Key == nil {
		return ""
	}
	return p.Key.Name
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx carries. Without one, the caller
// holds no scope at all: a handler reached without authentication refuses
// everything.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}
