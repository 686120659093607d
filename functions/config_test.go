package functions_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sfsync/sfsync/shared/resources"
)

// TestTypoInASettingStopsTheFunction: a function whose number setting (or
// its true/false setting) holds a typo stops at its start with status 1,
// logging the variable's name and value as it logs a missing variable; it
// never runs on a default. The control case, the same environment without
// the typo, gets past the configuration (to the AWS configuration, which
// the test leaves out), so the typo is what stopped the others.
func TestTypoInASettingStopsTheFunction(t *testing.T) {
	t.Parallel()
	bins := buildFunctions(t)
	tests := []struct {
		function string
		name     string // "" for the control case
		value    string
		wantMsg  string
		wantErr  string // in the logged error
	}{
		{"contactsync", "", "", "aws configuration", "AWS_REGION"},
		{"contactsync", "HOLD_DELAY_SECONDS", "9OO", "configuration", `HOLD_DELAY_SECONDS="9OO"`},
		{"contactsync", "AWAIT_ADD_SECONDS", "40m", "configuration", `AWAIT_ADD_SECONDS="40m"`},
		{"activitysync", "", "", "aws configuration", "AWS_REGION"},
		{"activitysync", "HOLD_DELAY_SECONDS", "-900", "configuration", `HOLD_DELAY_SECONDS="-900"`},
		{"activitysync", "AWAIT_ADD_SECONDS", "2400s", "configuration", `AWAIT_ADD_SECONDS="2400s"`},
		{"activitysync", "TEAMS_AT_ONCE", "four", "configuration", `TEAMS_AT_ONCE="four"`},
		{"api", "", "", "aws configuration", "AWS_REGION"},
		{"api", resources.EnvAllowInsecureLogin, "ture", "configuration", resources.EnvAllowInsecureLogin + `="ture"`},
		{"contactsync", resources.EnvLegacyOutcomesUntil, "2027-3-7", "configuration", resources.EnvLegacyOutcomesUntil + `="2027-3-7"`},
	}
	for _, tt := range tests {
		t.Run(tt.function+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			env := []string{"PATH=" + os.Getenv("PATH")}
			for _, name := range functionEnv(t, tt.function) {
				v := "set-by-the-test"
				if name == resources.EnvLegacyOutcomesUntil {
					v = "2027-03-07" // a day, as it must be
				}
				env = append(env, name+"="+v)
			}
			if tt.name != "" {
				env = append(env, tt.name+"="+tt.value)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bins[tt.function])
			cmd.Env = env
			out, err := cmd.Output()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: got %v; want status 1 (output: %s)", err, out)
			}
			msg, logged := firstError(t, out)
			if msg != tt.wantMsg || !strings.Contains(logged, tt.wantErr) {
				t.Errorf("logged: got %q %q; want %q naming %s", msg, logged, tt.wantMsg, tt.wantErr)
			}
		})
	}
}

// buildFunctions builds every function's main package for this machine and
// returns the programs by function name.
func buildFunctions(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	bins := map[string]string{}
	for _, fn := range resources.Functions {
		args = append(args, "./"+fn.Name)
		bins[fn.Name] = filepath.Join(dir, fn.Name)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bins
}

// functionEnv returns the variables the function requires.
func functionEnv(t *testing.T, name string) []string {
	t.Helper()
	for _, fn := range resources.Functions {
		if fn.Name == name {
			return fn.Env
		}
	}
	t.Fatalf("no function %s in resources.Functions", name)
	return nil
}

// firstError returns the message and error of the first error the
// function logged (its logs are JSON lines).
func firstError(t *testing.T, out []byte) (msg, err string) {
	t.Helper()
	lines := bufio.NewScanner(bytes.NewReader(out))
	for lines.Scan() {
		var l struct{ Level, Msg, Error string }
		if json.Unmarshal(lines.Bytes(), &l) == nil && l.Level == "ERROR" {
			return l.Msg, l.Error
		}
	}
	t.Fatalf("no error logged in %q", out)
	return "", ""
}
