// Package server is FAVAD's HTTP API, built on Echo: the route table with an
// explicit role rule per route, authentication middleware, handlers that turn
// wire types into calls on the store, and problem+json (RFC 9457) errors.
//
// Handlers hold no domain rules; they decode, call package sync, and encode.
package server
