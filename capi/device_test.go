package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDevicesFromC runs capi/testdata/device/device.c against the built
// library: on the cpu backend always, on vulkan when its plugin is built
// (required when STARK_REQUIRE_VULKAN is set).
func TestDevicesFromC(t *testing.T) {
	root, _ := filepath.Abs("..")
	if out, err := exec.Command("make", "-s", "-C", root, "lib").CombinedOutput(); err != nil {
		t.Fatalf("make lib: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "device")
	lib := filepath.Join(root, "build", "lib")
	cc := exec.Command("gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-I", filepath.Join(root, "abi"),
		"-o", bin, filepath.Join("testdata", "device", "device.c"), "-L", lib, "-lstark", "-lm", "-Wl,-rpath,"+lib)
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	backends := []string{"cpu"}
	if _, err := os.Stat(filepath.Join(lib, "stark", "libstark_vulkan.so")); err == nil || os.Getenv("STARK_REQUIRE_VULKAN") != "" {
		backends = append(backends, "vulkan")
	}
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			out, err := exec.Command(bin, b).CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(string(out), "device checks passed") {
				t.Fatalf("output:\n%s", out)
			}
			t.Logf("%s", out)
		})
	}
}
