package event

import (
	"errors"
	"fmt"
)

// ErrInvalid marks a message that can never be processed as sent: it is
// poison. A consumer sends it to the dead-letter queue and never retries it.
// Every error Decode returns wraps it.
var ErrInvalid = errors.New("invalid event")

// ErrUnsupportedVersion marks a well-formed envelope whose version is newer (or
// other) than the one this consumer reads. It also wraps ErrInvalid: the
// message goes to the dead-letter queue, from which it can be redriven once a
// consumer that reads its version is deployed.
var ErrUnsupportedVersion = errors.New("unsupported event version")

// ValidationError says which field of a message is wrong and how. Field is a
// JSON path such as "data.contact.email"; "body" stands for the whole message.
type ValidationError struct {
	Field   string
	Problem string
	kind    error // an extra sentinel, e.g. ErrUnsupportedVersion; nil otherwise
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Problem) }

// Unwrap lets errors.Is find ErrInvalid (always) and the extra sentinel, if any.
func (e *ValidationError) Unwrap() []error {
	if e.kind != nil {
		return []error{ErrInvalid, e.kind}
	}
	return []error{ErrInvalid}
}

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}
