package device_test

import (
	"testing"

	"github.com/stark-rt/stark/host/device"
	"github.com/stark-rt/stark/host/device/devicetest"
)

// TestCPUConformance runs the conformance suite on the built-in backend.
func TestCPUConformance(t *testing.T) {
	b := device.NewCPU(device.WithMemoryLimit(2 << 30))
	defer b.Close()
	devicetest.Run(t, b, devicetest.Options{})
}
