// Package auth holds FAVAD's credentials: argon2id password hashes, the
// Ed25519 signing keys (persisted in a key file, each with a kid so that keys
// can rotate), short-lived JWT access tokens with the algorithm pinned, and
// opaque refresh tokens that the store keeps only as hashes.
package auth
