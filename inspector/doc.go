// Package inspector holds FAVAD's domain: agencies, offices, complaints and
// users, the complaint state machine, validation with field-level errors,
// redaction of the caller's identity, and Persian text normalisation.
//
// It imports only the standard library: no storage, no transport. The sync
// package persists these types and the server package exposes them over HTTP.
package inspector
