// Package ingest takes customer events in: a Segment-compatible HTTP
// collector (/v1/track, /v1/identify, ... /v1/batch), the Segment message
// parser it shares with the GraphQL ingest mutation, a group commit that
// lets concurrent requests share one store transaction per micro-batch, and
// the client side of bulk file import.
//
// Nothing is acknowledged before it is committed: Submit returns only once
// the micro-batch holding the events has been written (or has failed).
// README.md beside this file documents every endpoint, status and limit.
package ingest
