package event

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode: Decode never panics; it either returns an event that encodes and
// decodes back to an equal event, or an error wrapping ErrInvalid that names a
// field. Seeds: every sample, every malformed event of the table, and the
// files in testdata/fuzz/FuzzDecode.
//
//	go test -run '^$' -fuzz FuzzDecode ./shared/event
func FuzzDecode(f *testing.F) {
	var files []string
	for _, dir := range []string{"samples", "lambda"} {
		paths, err := filepath.Glob(filepath.Join(eventsDir, dir, "*.json"))
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, paths...)
	}
	for _, p := range files {
		f.Add(readFile(f, p))
	}
	// Bodies near the size limit are left to the table test: every mutation
	// and minimisation of a 200 KB seed costs as much as a thousand small ones.
	for _, tc := range malformedEvents {
		if b := tc.body(f); len(b) <= 16<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := Decode(body)
		if err != nil {
			var ve *ValidationError
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &ve) {
				t.Fatalf("Decode error: got %v (%T); want a *ValidationError wrapping ErrInvalid", err, err)
			}
			if ve.Field == "" || ve.Problem == "" || !strings.HasPrefix(err.Error(), ve.Field+": ") {
				t.Fatalf("Decode error: got field %q, problem %q; want both set", ve.Field, ve.Problem)
			}
			return
		}
		out, err := Encode(e)
		if err != nil {
			t.Fatalf("Encode of a decoded event: got %v; want nil", err)
		}
		if len(out) > len(body) {
			t.Fatalf("Encode: got %d bytes from a %d-byte body; want no growth", len(out), len(body))
		}
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("Decode(Encode(e)): got %v; want nil\nencoded: %s", err, out)
		}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("Decode(Encode(e)): got %+v; want %+v", back, e)
		}
	})
}

// FuzzSchemaAgreement: the decoder and the envelope schema accept and
// refuse the same bodies, except where a schema cannot follow: the byte limit
// of a message, and timestamps whose instant in UTC falls outside the years
// 1970 to 9999 (which the decoder refuses so that every event it returns can be
// written back).
//
//	go test -run '^$' -fuzz FuzzSchemaAgreement ./shared/event
func FuzzSchemaAgreement(f *testing.F) {
	for _, dir := range []string{"samples"} {
		paths, err := filepath.Glob(filepath.Join(eventsDir, dir, "*.json"))
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			f.Add(readFile(f, p))
		}
	}
	for _, tc := range malformedEvents {
		if b := tc.body(f); len(b) <= 16<<10 {
			f.Add(b)
		}
	}
	envelope := schema(f, "envelope")
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > MaxBodyBytes {
			return
		}
		_, goErr := Decode(body)
		schemaErr := schemaValidate(envelope, body)
		var ve *ValidationError
		if goErr != nil && schemaErr == nil && errors.As(goErr, &ve) && strings.HasPrefix(ve.Problem, "outside the years") {
			return
		}
		if (goErr == nil) != (schemaErr == nil) {
			t.Fatalf("Decode: %v\nschema: %v\nbody: %s", goErr, schemaErr, body)
		}
	})
}
