package event

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// eventsDir is the repository's events/ folder.
var eventsDir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "events")
}()

var schemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	names := []string{"envelope", "outcome"}
	for _, t := range Types {
		names = append(names, string(t))
	}
	out := make(map[string]*jsonschema.Schema, len(names))
	for _, n := range names {
		s, err := c.Compile(filepath.Join(eventsDir, "schema", n+".schema.json"))
		if err != nil {
			return nil, fmt.Errorf("compile schema %s: %w", n, err)
		}
		out[n] = s
	}
	return out, nil
})

// schema returns the compiled schema "envelope", "outcome" or an event type's.
func schema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	all, err := schemas()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := all[name]
	if !ok {
		t.Fatalf("no schema %q", name)
	}
	return s
}

// schemaValidate validates a message body against a schema. JSON text is
// UTF-8 by definition (RFC 8259), so a body that is not is rejected before the
// schema is consulted, as a JSON parser in strict mode would.
func schemaValidate(s *jsonschema.Schema, body []byte) error {
	if !utf8.Valid(body) {
		return errors.New("not UTF-8")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(inst)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
