package api

import _ "embed"

// OpenAPI is the OpenAPI 3 description of every route, checked against the
// server's route table and these types by a test in app/server/httpapi.
//
//go:embed openapi.json
var OpenAPI []byte
