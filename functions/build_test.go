// Package functions_test checks that `make build` produces what Lambda runs:
// one linux/arm64 `bootstrap` per function, zipped.
package functions_test

import (
	"archive/zip"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sfsync/sfsync/shared/resources"
)

func TestMakeBuildProducesArm64Bootstraps(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("make", "-C", "..", "build", "BUILD_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	for _, fn := range resources.Functions {
		t.Run(fn.Name, func(t *testing.T) {
			bin := filepath.Join(dir, fn.Name, "bootstrap")
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("open %s: %v", bin, err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC {
				t.Errorf("bootstrap: got %v %v %v; want a 64-bit ARM aarch64 executable", f.Machine, f.Class, f.Type)
			}
			if f.Section(".interp") != nil {
				t.Errorf("bootstrap: got a dynamically linked binary; want static (CGO_ENABLED=0)")
			}
			if path, err := exec.LookPath("file"); err == nil {
				out, _ := exec.Command(path, bin).Output()
				if !strings.Contains(string(out), "ARM aarch64") {
					t.Errorf("file: got %q; want ARM aarch64", out)
				}
			}
			z, err := zip.OpenReader(filepath.Join(dir, fn.Name+".zip"))
			if err != nil {
				t.Fatalf("zip: %v", err)
			}
			defer z.Close()
			if len(z.File) != 1 || z.File[0].Name != "bootstrap" || z.File[0].Mode()&0o111 == 0 {
				t.Errorf("zip: got %v; want one executable bootstrap", z.File)
			}
			st, _ := os.Stat(bin)
			t.Logf("%s bootstrap: %d bytes", fn.Name, st.Size())
		})
	}
}
