package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// ErrorDetail is the body of every error response: a machine code, a
// sentence for people, and the offending field when there is one.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RetryAfter is, on a refusal that ends (429, or 409 for a repeat
	// within its cooldown), the seconds until the request may be made
	// again; the Retry-After header says the same.
	RetryAfter int `json:"retry_after,omitempty"`
}

type errorBody struct {
	Error ErrorDetail `json:"error"`
}

// WriteJSON writes v as the JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"response could not be encoded"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError writes an error body.
func WriteError(w http.ResponseWriter, status int, code, message, field string) {
	WriteJSON(w, status, errorBody{Error: ErrorDetail{Code: code, Message: message, Field: field}})
}

// WriteRetryLater writes an error body for a refusal that ends after after:
// the Retry-After header and the body's retry_after, in whole seconds
// rounded up, at least one.
func WriteRetryLater(w http.ResponseWriter, status int, code, message string, after time.Duration) {
	secs := int(max((after+time.Second-1)/time.Second, 1))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	WriteJSON(w, status, errorBody{Error: ErrorDetail{Code: code, Message: message, RetryAfter: secs}})
}

func jsonResponse(status int, v any) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(v)
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

// MaxBodyBytes bounds every request body the API reads.
const MaxBodyBytes = 64 << 10

// ReadBody reads r's body for a handler that parses it itself: the bytes,
// or false after answering 400 (unreadable, empty) or 413 (larger than
// MaxBodyBytes), naming the body.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	switch {
	case err != nil:
		WriteError(w, http.StatusBadRequest, "invalid_request", "body: could not be read", "body")
	case len(body) > MaxBodyBytes:
		WriteError(w, http.StatusRequestEntityTooLarge, "invalid_request", fmt.Sprintf("body: larger than %d bytes", MaxBodyBytes), "body")
	case len(bytes.TrimSpace(body)) == 0:
		WriteError(w, http.StatusBadRequest, "invalid_request", "body: is empty; a JSON object is required", "body")
	default:
		return body, true
	}
	return nil, false
}

// FieldError is a request problem tied to one field; handlers return it and
// DecodeJSON produces it, and it becomes a 400 naming the field.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

// DecodeJSON reads r's JSON body into v, rejecting unknown fields, trailing
// data, wrong types and oversized bodies with a *FieldError.
func DecodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return &FieldError{Field: "body", Problem: "could not be read"}
	}
	if len(body) > MaxBodyBytes {
		return &FieldError{Field: "body", Problem: fmt.Sprintf("larger than %d bytes", MaxBodyBytes)}
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFieldError(err)
	}
	if dec.More() {
		return &FieldError{Field: "body", Problem: "must hold exactly one JSON value"}
	}
	return nil
}

func jsonFieldError(err error) *FieldError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return &FieldError{Field: field, Problem: fmt.Sprintf("must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)}
	case errors.As(err, &syntaxErr):
		return &FieldError{Field: "body", Problem: fmt.Sprintf("not valid JSON at byte %d", syntaxErr.Offset)}
	case errors.Is(err, io.EOF):
		return &FieldError{Field: "body", Problem: "is empty; a JSON object is required"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Field: "body", Problem: "is truncated: not valid JSON"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &FieldError{Field: name, Problem: "unknown field"}
	default:
		return &FieldError{Field: "body", Problem: err.Error()}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "ptr":
		return "an object or null"
	default:
		return "a number"
	}
}

// WriteFieldError writes err as a 400 when it is a *FieldError and reports
// whether it did.
func WriteFieldError(w http.ResponseWriter, err error) bool {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return false
	}
	WriteError(w, http.StatusBadRequest, "invalid_request", fe.Error(), fe.Field)
	return true
}
