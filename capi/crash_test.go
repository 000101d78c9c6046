package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCrashShowsCFrames: a native handler that crashes takes the process
// down (nothing can recover from a wild write in C), but the report names
// the C functions and lines, because libstark links cgosymbolizer.
func TestCrashShowsCFrames(t *testing.T) {
	root, _ := filepath.Abs("..")
	if out, err := exec.Command("make", "-s", "-C", root, "lib").CombinedOutput(); err != nil {
		t.Fatalf("make lib: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "crash")
	lib := filepath.Join(root, "build", "lib")
	cc := exec.Command("gcc", "-std=c11", "-g", "-O1", "-I", filepath.Join(root, "abi"),
		"-o", bin, filepath.Join("testdata", "crash", "crash.c"), "-L", lib, "-lstark", "-Wl,-rpath,"+lib)
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	run := exec.Command(bin)
	run.Env = append(os.Environ(), "GOTRACEBACK=")
	out, err := run.CombinedOutput()
	if err == nil {
		t.Fatalf("the crashing program exited 0:\n%s", out)
	}
	for _, want := range []string{"SIGSEGV", "stark_test_write_null", "stark_test_crashing_handler", "crash.c:11"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("crash report lacks %q:\n%s", want, out)
		}
	}
}
