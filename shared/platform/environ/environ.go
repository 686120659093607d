// Package environ reads a function's configuration from its environment and
// reports every missing variable at once.
package environ

import (
	"fmt"
	"os"
	"strings"
)

// Reader collects required variables and remembers which were missing.
type Reader struct {
	missing []string
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

// Err reports the missing variables, or nil.
func (r *Reader) Err() error {
	if len(r.missing) == 0 {
		return nil
	}
	return fmt.Errorf("missing environment variables: %s", strings.Join(r.missing, ", "))
}
