// Package server wires the HTTP side: the router, request ids and access
// logs, health and readiness, metrics, and graceful shutdown. It knows the
// collector and the GraphQL handler only as http.Handlers.
package server
