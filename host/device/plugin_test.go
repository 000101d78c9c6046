package device

import (
	"testing"
	"unsafe"
)

// TestCLayout: the Go mirrors of abi/stark_device.h's structs have the
// sizes the C compiler gives them on LP64 (amd64, arm64); the plugin
// tests load real plugins compiled against the header.
func TestCLayout(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"stark_dev_init", unsafe.Sizeof(cInit{}), 16},
		{"stark_dev_info", unsafe.Sizeof(cInfo{}), 240},
		{"stark_dev_buf", unsafe.Sizeof(cBuf{}), 16},
		{"stark_dev_copy", unsafe.Sizeof(cCopy{}), 80},
		{"stark_dev_op", unsafe.Sizeof(cOp{}), 144},
		{"stark_dev_launch", unsafe.Sizeof(cLaunch{}), 80},
		{"stark_device_api", unsafe.Sizeof(cAPI{}), 184},
	} {
		if c.got != c.want {
			t.Errorf("%s: Go mirror is %d bytes, C is %d", c.name, c.got, c.want)
		}
	}
}
