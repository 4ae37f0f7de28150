// Package reqid carries a request's id in its context, from the server's
// middleware, which sets it, to whatever records the request (the audit
// log).
package reqid

import "context"

type key struct{}

// With returns ctx carrying the request id id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the request id ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}
