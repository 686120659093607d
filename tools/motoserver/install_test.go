package motoserver_test

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
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

// TestInstallScript: install.sh installs the pinned set when moto is
// missing or another version than the pin (from requirements.lock with
// --require-hashes when the lock exists, else from requirements.txt with a
// note), leaves the pinned one alone, refuses a lock that pins another set,
// and says what to run by hand when pip cannot install.
func TestInstallScript(t *testing.T) {
	t.Parallel()
	pinned := launcherVersion(t, motoserver.LauncherScript)
	requirements, err := os.ReadFile("requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	lock := "moto[server]==" + pinned + " \\\n    --hash=sha256:00\n"
	pip := "-m pip install --quiet -r ./requirements.txt\n"
	pipLocked := "-m pip install --quiet --require-hashes -r ./requirements.lock\n"
	noLock := "note: no ./requirements.lock: installing by exact versions, without checking file hashes"
	tests := []struct {
		name         string
		requirements string // "" for the package's requirements.txt
		lock         string // requirements.lock; "" for none
		installed    string // "" for no moto
		installs     string // what pip installs, or "fail"
		wantPip      string // pip.log
		wantOut      string // in the output
		wantErr      bool
	}{
		{"the pinned version", "", "", pinned, "fail", "", "", false},
		{"no moto", "", "", "", pinned, pip, noLock, false},
		{"another version", "", "", "4.0.0", pinned, pip, noLock, false},
		{"pip fails", "", "", "4.0.0", "fail", pip, "error: pip could not install moto " + pinned, true},
		{"pip installs another version", "", "", "", "4.0.1", pip, "python3 imports moto 4.0.1, not " + pinned, true},
		{"a lock: hashes required", "moto[server]==" + pinned + "\n", lock, "4.0.0", pinned, pipLocked, "installing it with: python3 -m pip install --require-hashes -r ./requirements.lock", false},
		{"a lock of another set", "moto[server]==" + pinned + "\nsix==1.17.0\n", lock, "", pinned, "", "does not pin what ./requirements.txt pins: run make moto-lock", true},
		{"pip refuses a hash", "moto[server]==" + pinned + "\n", lock, "", "fail", pipLocked, "Run by hand: python3 -m pip install --require-hashes -r ./requirements.lock", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bin, script := t.TempDir(), t.TempDir()
			files := map[string]string{filepath.Join(bin, "python3"): fakePython, filepath.Join(bin, "pip.installs"): tt.installs,
				filepath.Join(script, "requirements.txt"): cmp.Or(tt.requirements, string(requirements))}
			if tt.installed != "" {
				files[filepath.Join(bin, "version")], files[filepath.Join(bin, "moto_server")] = tt.installed, "#!/bin/sh\n"
			}
			if tt.lock != "" {
				files[filepath.Join(script, "requirements.lock")] = tt.lock
			}
			install, err := os.ReadFile("install.sh")
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.Join(script, "install.sh")] = string(install)
			writeFiles(t, files)
			cmd := exec.Command("./install.sh")
			cmd.Dir = script
			cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin")
			out, err := cmd.CombinedOutput()
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("failed: got %v; want %v (%v; it said: %s)", got, tt.wantErr, err, out)
			}
			if !strings.Contains(string(out), tt.wantOut) {
				t.Errorf("output: got %q; want it to say %q", out, tt.wantOut)
			}
			if tt.wantErr && tt.wantPip != "" && !strings.Contains(string(out), "Run by hand: python3 -m pip install ") {
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

// fakeDownloads plays python3 for lock.sh: `-m pip download` writes the
// files named in the file "files" (and, with --platform P, in "files.P")
// to --dest, each holding its own name; `-m pip hash` prints a file's
// sha256 as pip does.
const fakeDownloads = `#!/bin/sh
here="$(dirname "$0")"
case "$1 $2 $3" in
"-m pip download")
  dest= platform=
  while [ $# -gt 0 ]; do
    case "$1" in --dest) dest=$2; shift ;; --platform) platform=$2; shift ;; esac
    shift
  done
  mkdir -p "$dest"
  for f in $(cat "$here/files" ${platform:+"$here/files.$platform"}); do echo "$f" >"$dest/$f"; done ;;
"-m pip hash")
  echo "$6:"
  echo "--hash=sha256:$(sha256sum "$6" | cut -d' ' -f1)" ;;
*) exit 2 ;;
esac
`

// TestLockScript: lock.sh writes each pin of requirements.txt with the
// hash of every file downloaded for it, telling apart names that start
// alike and spellings pip treats as one (case, -, _ and .), with the
// wheels of the other platforms asked for; it fails on a pin no file was
// downloaded for, leaving no lock; and install.sh accepts the lock it
// writes.
func TestLockScript(t *testing.T) {
	t.Parallel()
	requirements := "# the set\nmoto[server]==5.2.1\njsonschema==4.26.0\njsonschema-path==0.5.0\npython-dateutil==2.9.0.post0\nPyYAML==6.0.3\n"
	common := []string{"jsonschema-4.26.0-py3-none-any.whl", "jsonschema_path-0.5.0-py3-none-any.whl", "moto-5.2.1-py3-none-any.whl",
		"python_dateutil-2.9.0.post0-py2.py3-none-any.whl", "pyyaml-6.0.3.tar.gz"}
	arm := "PyYAML-6.0.3-cp311-cp311-manylinux2014_aarch64.whl"
	hash := func(name string) string {
		sum := sha256.Sum256([]byte(name + "\n"))
		return " \\\n    --hash=sha256:" + hex.EncodeToString(sum[:])
	}
	tests := []struct {
		name      string
		files     []string
		platforms string // LOCK_PLATFORMS
		want      string // the lock without its comments; "" when it fails
	}{
		{"this machine", common, "", "moto[server]==5.2.1" + hash(common[2]) + "\njsonschema==4.26.0" + hash(common[0]) +
			"\njsonschema-path==0.5.0" + hash(common[1]) + "\npython-dateutil==2.9.0.post0" + hash(common[3]) + "\nPyYAML==6.0.3" + hash(common[4]) + "\n"},
		{"and another platform", common, "manylinux2014_aarch64", "moto[server]==5.2.1" + hash(common[2]) + "\njsonschema==4.26.0" + hash(common[0]) +
			"\njsonschema-path==0.5.0" + hash(common[1]) + "\npython-dateutil==2.9.0.post0" + hash(common[3]) + "\nPyYAML==6.0.3" + hash(arm) + hash(common[4]) + "\n"},
		{"a pin with no file", []string{common[0], common[1], common[3], common[4]}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bin, script := t.TempDir(), t.TempDir()
			lockScript, err := os.ReadFile("lock.sh")
			if err != nil {
				t.Fatal(err)
			}
			install, err := os.ReadFile("install.sh")
			if err != nil {
				t.Fatal(err)
			}
			writeFiles(t, map[string]string{filepath.Join(bin, "python3"): fakeDownloads, filepath.Join(bin, "files"): strings.Join(tt.files, "\n") + "\n",
				filepath.Join(bin, "files.manylinux2014_aarch64"): arm + "\n", filepath.Join(script, "requirements.txt"): requirements,
				filepath.Join(script, "lock.sh"): string(lockScript), filepath.Join(script, "install.sh"): string(install)})
			cmd := exec.Command("./lock.sh")
			cmd.Dir = script
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "LOCK_PLATFORMS=" + tt.platforms, "LOCK_PYTHON=3.11"}
			out, err := cmd.CombinedOutput()
			lock, rerr := os.ReadFile(filepath.Join(script, "requirements.lock"))
			if tt.want == "" {
				if err == nil || !strings.Contains(string(out), "error: pip downloaded no file for moto[server]==5.2.1") || rerr == nil {
					t.Errorf("got %v, a lock %v (it said: %s); want it to fail naming the pin, and no lock", err, rerr == nil, out)
				}
				return
			}
			if err != nil || rerr != nil {
				t.Fatalf("lock.sh: %v %v; it said: %s", err, rerr, out)
			}
			var body []string
			for _, line := range strings.SplitAfter(string(lock), "\n") {
				if !strings.HasPrefix(line, "#") {
					body = append(body, line)
				}
			}
			if got := strings.Join(body, ""); got != tt.want {
				t.Errorf("lock: got\n%s\nwant\n%s", got, tt.want)
			}
			// install.sh takes the lock as the pinned set (pip itself is not run: moto is there).
			writeFiles(t, map[string]string{filepath.Join(bin, "python3"): fakePython, filepath.Join(bin, "version"): "4.0.0",
				filepath.Join(bin, "pip.installs"): "5.2.1"})
			inst := exec.Command("./install.sh")
			inst.Dir = script
			inst.Env = cmd.Env
			if out, err := inst.CombinedOutput(); err != nil || !strings.Contains(string(out), "--require-hashes -r ./requirements.lock") {
				t.Errorf("install.sh with the lock: got %v; it said: %s; want it installed with --require-hashes", err, out)
			}
		})
	}
}

// writeFiles writes each file, executable.
func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for path, text := range files {
		if err := os.WriteFile(path, []byte(text), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}
