package motoserver_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/tools/motoserver"
)

// fakePython plays python3 for install.sh: it answers moto's version from
// the file version (none when the file is missing), and `-m pip` installs
// by writing the version pip.installs to that file (or fails when it holds
// "fail"), logging its arguments in pip.log.
const fakePython = `#!/bin/sh
cd "$(dirname "$0")"
case "$*" in
"-m pip "*)
  echo "$*" >>pip.log
  [ "$(cat pip.installs)" = fail ] && exit 1
  cp pip.installs version
  echo '#!/bin/sh' >moto_server && chmod +x moto_server ;;
*'version("moto")'*) [ -f version ] && cat version || exit 1 ;;
*sysconfig*) echo /scripts ;;
*) exit 2 ;;
esac
`

// TestInstallScript: install.sh installs requirements.txt when moto is
// missing or another version than the pin, leaves the pinned one alone, and
// says what to run by hand when pip cannot install.
func TestInstallScript(t *testing.T) {
	t.Parallel()
	pinned := launcherVersion(t, motoserver.LauncherScript)
	pip := "-m pip install --quiet -r ./requirements.txt\n"
	tests := []struct {
		name      string
		installed string // "" for no moto
		installs  string // what pip installs, or "fail"
		wantPip   string // pip.log
		wantErr   string // in the output when the script fails
	}{
		{"the pinned version", pinned, "fail", "", ""},
		{"no moto", "", pinned, pip, ""},
		{"another version", "4.0.0", pinned, pip, ""},
		{"pip fails", "4.0.0", "fail", pip, "error: pip could not install moto " + pinned},
		{"pip installs another version", "", "4.0.1", pip, "python3 imports moto 4.0.1, not " + pinned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bin := t.TempDir()
			files := map[string]string{"python3": fakePython, "pip.installs": tt.installs}
			if tt.installed != "" {
				files["version"], files["moto_server"] = tt.installed, "#!/bin/sh\n"
			}
			for name, text := range files {
				if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("./install.sh")
			cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin")
			out, err := cmd.CombinedOutput()
			if got, want := err != nil, tt.wantErr != ""; got != want {
				t.Fatalf("failed: got %v; want %v (%v; it said: %s)", got, want, err, out)
			}
			if !strings.Contains(string(out), tt.wantErr) {
				t.Errorf("output: got %q; want it to say %q", out, tt.wantErr)
			}
			if tt.wantErr != "" && !strings.Contains(string(out), "Run by hand: python3 -m pip install -r ") {
				t.Errorf("output: got %q; want the command to run by hand", out)
			}
			log, err := os.ReadFile(filepath.Join(bin, "pip.log"))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if got := string(log); got != tt.wantPip {
				t.Errorf("pip: got %q; want %q", got, tt.wantPip)
			}
		})
	}
}
