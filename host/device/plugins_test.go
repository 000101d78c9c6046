package device_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stark-rt/stark/host/device"
	"github.com/stark-rt/stark/host/device/devicetest"
)

// pluginPath is where make plugins puts a backend: build/lib/stark/ at the
// repository root, or $STARK_PLUGIN_DIR.
func pluginPath(name string) string {
	dir := os.Getenv("STARK_PLUGIN_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "build", "lib", "stark")
	}
	return filepath.Join(dir, "libstark_"+name+".so")
}

// conformance loads a plugin and runs the suite on it. required: the
// plugin must be built and usable here (vulkan, on Mesa's lavapipe);
// otherwise a plugin that is absent or scores 0 is a skip with the reason,
// never a pass.
func conformance(t *testing.T, name string, required bool) {
	path := pluginPath(name)
	if _, err := os.Stat(path); err != nil {
		if required {
			t.Fatalf("%s plugin not built at %s (make plugins): %v", name, path, err)
		}
		t.Skipf("%s plugin not built at %s: %v", name, path, err)
	}
	info, err := device.Probe(path)
	if err != nil {
		t.Fatalf("probe %s: %v", path, err)
	}
	if info.Score == 0 {
		if required {
			t.Fatalf("%s scores 0 here: its driver or device is missing", name)
		}
		t.Skipf("%s scores 0 here (no driver or no device): not verified on this machine", name)
	}
	p, err := device.LoadPlugin(path, "")
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	devicetest.Run(t, p, devicetest.Options{})
}

func TestVulkanConformance(t *testing.T) {
	conformance(t, "vulkan", os.Getenv("STARK_REQUIRE_VULKAN") != "")
}

func TestCUDAConformance(t *testing.T) { conformance(t, "cuda", os.Getenv("STARK_REQUIRE_CUDA") != "") }

func TestROCmConformance(t *testing.T) { conformance(t, "rocm", os.Getenv("STARK_REQUIRE_ROCM") != "") }

func TestMetalConformance(t *testing.T) {
	conformance(t, "metal", os.Getenv("STARK_REQUIRE_METAL") != "")
}
