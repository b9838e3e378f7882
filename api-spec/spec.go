// Package apispec embeds FAVAD's API contract, api-spec/openapi.yaml, so that
// the server can serve it and the tests can validate real traffic against it.
package apispec

import _ "embed"

// YAML is the OpenAPI 3.1 document describing every route of the API.
//
//go:embed openapi.yaml
var YAML []byte
