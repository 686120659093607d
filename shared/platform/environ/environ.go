// Package environ reads a function's configuration from its environment and
// reports every missing or unreadable variable at once, so that a function
// whose configuration is wrong stops at its start, naming what is wrong,
// rather than running on a silent default.
package environ

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors Err wraps, for callers and tests that tell them apart.
var (
	// ErrMissing marks required variables that are unset or empty.
	ErrMissing = errors.New("missing environment variables")
	// ErrInvalid marks variables whose value the accessor could not read
	// (a typo in a number, say).
	ErrInvalid = errors.New("invalid environment variables")
)

// Reader collects required variables and remembers which were missing and
// which could not be read.
type Reader struct {
	missing []string
	invalid []string // NAME="value" (what the value should be)
}

// Require returns the variable's value and records it as missing when empty.
func (r *Reader) Require(name string) string {
	v := os.Getenv(name)
	if v == "" {
		r.missing = append(r.missing, name)
	}
	return v
}

// Optional returns the variable's value or def.
func (r *Reader) Optional(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Seconds returns the variable, a whole number of seconds (0 or more), as a
// duration, or def when it is unset or empty. Any other value is recorded
// as invalid, and def returned: Err then fails the start with the
// variable's name and value.
func (r *Reader) Seconds(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		r.invalid = append(r.invalid, fmt.Sprintf("%s=%q (want a whole number of seconds, 0 or more)", name, v))
		return def
	}
	return time.Duration(n) * time.Second
}

// Count returns the variable as a whole number, 0 or more, or def when it
// is unset or empty. Any other value is recorded as invalid, and def
// returned: Err then fails the start with the variable's name and value.
func (r *Reader) Count(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		r.invalid = append(r.invalid, fmt.Sprintf("%s=%q (want a whole number, 0 or more)", name, v))
		return def
	}
	return int(n)
}

// Bool returns true for "true", false for "false", or def when the variable
// is unset or empty. Any other value (a typo, or "TRUE") is recorded as
// invalid, and def returned: Err then fails the start with the variable's
// name and value.
func (r *Reader) Bool(name string, def bool) bool {
	switch v := os.Getenv(name); v {
	case "":
		return def
	case "true":
		return true
	case "false":
		return false
	default:
		r.invalid = append(r.invalid, fmt.Sprintf("%s=%q (want true or false)", name, v))
		return def
	}
}

// Date returns the variable, a day written 2006-01-02 (its midnight, UTC),
// or the zero time when it is unset or empty. Any other value is recorded
// as invalid: Err then fails the start with the variable's name and value.
func (r *Reader) Date(name string) time.Time {
	v := os.Getenv(name)
	if v == "" {
		return time.Time{}
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		r.invalid = append(r.invalid, fmt.Sprintf("%s=%q (want a day, YYYY-MM-DD)", name, v))
		return time.Time{}
	}
	return d
}

// Err reports the missing and the invalid variables, or nil.
func (r *Reader) Err() error {
	var errs []error
	if len(r.missing) > 0 {
		errs = append(errs, fmt.Errorf("%w: %s", ErrMissing, strings.Join(r.missing, ", ")))
	}
	if len(r.invalid) > 0 {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(r.invalid, ", ")))
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	default:
		return fmt.Errorf("%w; %w", errs[0], errs[1])
	}
}
