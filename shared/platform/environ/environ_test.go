package environ

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSeconds(t *testing.T) {
	tests := []struct {
		name    string
		value   string // "" leaves the variable unset
		want    time.Duration
		wantErr string // in Err's message; "" for no error
	}{
		{"a whole number", "900", 900 * time.Second, ""},
		{"zero", "0", 0, ""},
		{"unset: the default", "", 42 * time.Second, ""},
		{"a letter O for a zero", "9O0", 42 * time.Second, `HOLD_DELAY_SECONDS="9O0"`},
		{"a unit", "15m", 42 * time.Second, `HOLD_DELAY_SECONDS="15m"`},
		{"a fraction", "1.5", 42 * time.Second, `HOLD_DELAY_SECONDS="1.5"`},
		{"negative", "-1", 42 * time.Second, `HOLD_DELAY_SECONDS="-1"`},
		{"a space", " 900", 42 * time.Second, `HOLD_DELAY_SECONDS=" 900"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOLD_DELAY_SECONDS", tt.value)
			var r Reader
			if got := r.Seconds("HOLD_DELAY_SECONDS", 42*time.Second); got != tt.want {
				t.Errorf("Seconds: got %v; want %v", got, tt.want)
			}
			checkErr(t, r.Err(), ErrInvalid, tt.wantErr)
		})
	}
}

func TestDate(t *testing.T) {
	tests := []struct {
		name    string
		value   string // "" leaves the variable unset
		want    time.Time
		wantErr string // in Err's message; "" for no error
	}{
		{"a day", "2027-03-07", time.Date(2027, 3, 7, 0, 0, 0, 0, time.UTC), ""},
		{"unset: none", "", time.Time{}, ""},
		{"a time", "2027-03-07T00:00:00Z", time.Time{}, `LEDGER_LEGACY_OUTCOMES_UNTIL="2027-03-07T00:00:00Z"`},
		{"day first", "07/03/2027", time.Time{}, `LEDGER_LEGACY_OUTCOMES_UNTIL="07/03/2027"`},
		{"no such day", "2027-02-30", time.Time{}, `LEDGER_LEGACY_OUTCOMES_UNTIL="2027-02-30"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LEDGER_LEGACY_OUTCOMES_UNTIL", tt.value)
			var r Reader
			if got := r.Date("LEDGER_LEGACY_OUTCOMES_UNTIL"); !got.Equal(tt.want) {
				t.Errorf("Date: got %v; want %v", got, tt.want)
			}
			checkErr(t, r.Err(), ErrInvalid, tt.wantErr)
		})
	}
}

func TestBool(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		def     bool
		want    bool
		wantErr string
	}{
		{"true", "true", false, true, ""},
		{"false", "false", true, false, ""},
		{"unset: the default false", "", false, false, ""},
		{"unset: the default true", "", true, true, ""},
		{"a typo", "ture", false, false, `ALLOW_INSECURE_LOGIN_URLS="ture"`},
		{"another spelling", "TRUE", false, false, `ALLOW_INSECURE_LOGIN_URLS="TRUE"`},
		{"a number", "1", false, false, `ALLOW_INSECURE_LOGIN_URLS="1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ALLOW_INSECURE_LOGIN_URLS", tt.value)
			var r Reader
			if got := r.Bool("ALLOW_INSECURE_LOGIN_URLS", tt.def); got != tt.want {
				t.Errorf("Bool: got %v; want %v", got, tt.want)
			}
			checkErr(t, r.Err(), ErrInvalid, tt.wantErr)
		})
	}
}

// TestErrNamesEverything: Err names every missing and every invalid
// variable at once, each kind under its own sentinel.
func TestErrNamesEverything(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		want     string // Err's message; "" for nil
		sentinel []error
	}{
		{"all set", map[string]string{"A": "a", "B": "b", "N": "7"}, "", nil},
		{"one missing", map[string]string{"B": "b"}, "missing environment variables: A", []error{ErrMissing}},
		{"two missing", map[string]string{"N": "7"}, "missing environment variables: A, B", []error{ErrMissing}},
		{"a typo", map[string]string{"A": "a", "B": "b", "N": "seven"},
			`invalid environment variables: N="seven" (want a whole number of seconds, 0 or more)`, []error{ErrInvalid}},
		{"missing and a typo", map[string]string{"A": "a", "N": "7s"},
			`missing environment variables: B; invalid environment variables: N="7s" (want a whole number of seconds, 0 or more)`,
			[]error{ErrMissing, ErrInvalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"A", "B", "N"} {
				t.Setenv(k, tt.env[k])
			}
			var r Reader
			r.Require("A")
			r.Require("B")
			r.Seconds("N", time.Second)
			err := r.Err()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Err: got %q; want %q", got, tt.want)
			}
			for _, s := range tt.sentinel {
				if !errors.Is(err, s) {
					t.Errorf("Err: got %v; want it to wrap %v", err, s)
				}
			}
		})
	}
}

// checkErr fails unless err names want under sentinel (or is nil when want
// is empty).
func checkErr(t *testing.T, err, sentinel error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("Err: got %v; want nil", err)
		}
		return
	}
	if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), want) {
		t.Errorf("Err: got %v; want %v naming %s", err, sentinel, want)
	}
}
