// Package openapi ships the API's OpenAPI 3.1 document, written by hand and
// kept honest by tests: every declared route is documented and every
// documented route is declared, and the API's tests check their responses
// against it (see openapitest).
package openapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

//go:embed openapi.json
var document []byte

// Document returns a copy of the OpenAPI document's JSON.
func Document() []byte { return append([]byte(nil), document...) }

// Handler serves the document (GET /openapi.json, a public route).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Content-Length", strconv.Itoa(len(document)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(document)
		}
	})
}
