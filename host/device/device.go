// Package device runs numeric work on devices: a CPU (the built-in cpu
// backend, the embedded default) or a GPU through a backend plugin (CUDA,
// ROCm, Metal, Vulkan) loaded at run time with purego, never linked in.
//
// Every backend implements Backend: devices, memory as opaque handles plus
// offsets, copies, streams, the built-in f32 op set (fill, copy, scale,
// axpy, add, mul, relu, matmul, reduce sum and max, softmax) and, where
// offered, native modules (SPIR-V, PTX, HSACO, metallib). Plugins speak
// the C contract in abi/stark_device.h; Plugin wraps one into a Backend.
// Manager discovers plugins, picks one by score (a working GPU beats the
// cpu; STARK_DEVICE forces a name), puts a caching allocator in front, and
// swaps backends in a running host. docs/devices.md has the details.
package device

import (
	"errors"
	"fmt"
)

// Type is the kind of a device.
type Type uint32

// Device types (abi/stark_device.h STARK_DEV_TYPE_*).
const (
	TypeOther Type = iota
	TypeCPU
	TypeIntegrated
	TypeDiscrete
	TypeVirtual // software or emulated (lavapipe)
)

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

var typeNames = [...]string{"other", "cpu", "integrated-gpu", "discrete-gpu", "virtual"}

// DType is an element type.
type DType uint32

// Element types (STARK_DT_*). Every backend supports F32 for every op;
// Supported says which others it takes.
const (
	F32 DType = iota
	F16
	BF16
	F64
)

// Size returns the size of one element in bytes.
func (d DType) Size() int { return [...]int{4, 2, 2, 8}[min(d, F64)] }

func (d DType) String() string { return [...]string{"f32", "f16", "bf16", "f64"}[min(d, F64)] }

// Caps are a backend's capability flags (STARK_DEV_CAP_*).
type Caps uint64

// Capabilities.
const (
	CapAsync      Caps = 1 << 0
	CapEvents     Caps = 1 << 1
	CapPinnedHost Caps = 1 << 2
	CapUnified    Caps = 1 << 3
	CapF16        Caps = 1 << 8
	CapBF16       Caps = 1 << 9
	CapF64        Caps = 1 << 10
	CapSPIRV      Caps = 1 << 16
	CapPTX        Caps = 1 << 17
	CapHSACO      Caps = 1 << 18
	CapMetallib   Caps = 1 << 19
	CapCUBIN      Caps = 1 << 20
)

// ModuleFormat is the format of native code for LoadModule (STARK_MOD_*).
type ModuleFormat uint32

// Module formats.
const (
	ModSPIRV    ModuleFormat = 1
	ModPTX      ModuleFormat = 2
	ModHSACO    ModuleFormat = 3
	ModMetallib ModuleFormat = 4
	ModCUBIN    ModuleFormat = 5
)

// Info describes one device.
type Info struct {
	Name         string
	Vendor       string
	Type         Type
	MemoryTotal  uint64 // bytes
	MemoryFree   uint64 // bytes, best effort (0: unknown)
	MaxAlloc     uint64 // the largest single allocation
	MaxBinding   uint64 // the largest range one kernel binding can address
	ComputeUnits int
}

// Ptr is a view of device memory: a buffer handle and a byte offset.
type Ptr struct {
	Handle uint64
	Offset uint64
}

// At returns the view offset by more bytes.
func (p Ptr) At(bytes uint64) Ptr { return Ptr{p.Handle, p.Offset + bytes} }

// Stream orders asynchronous work on a device; 0 is synchronous.
type Stream uint64

// OpKind is one of the built-in ops (STARK_OP_*).
type OpKind uint32

// The built-in ops; abi/stark_device.h defines each precisely.
const (
	OpFill OpKind = iota + 1
	OpCopy
	OpScale
	OpAxpy
	OpAdd
	OpMul
	OpRelu
	OpMatmul
	OpReduceSum
	OpReduceMax
	OpSoftmax
)

var opNames = [...]string{"", "fill", "copy", "scale", "axpy", "add", "mul", "relu", "matmul", "reduce_sum", "reduce_max", "softmax"}

func (k OpKind) String() string {
	if int(k) < len(opNames) && k > 0 {
		return opNames[k]
	}
	return fmt.Sprintf("op(%d)", uint32(k))
}

// Op is one built-in op. Shapes are in elements; A, B, C are row-major with
// row strides LDA, LDB, LDC (0: dense). See abi/stark_device.h.
type Op struct {
	Kind           OpKind
	DType          DType
	Device         int
	Stream         Stream
	A, B, C        Ptr
	M, N, K        uint64
	LDA, LDB, LDC  uint64
	TransA, TransB bool
	Alpha, Beta    float64
}

// Launch runs a function of a loaded module.
type Launch struct {
	Device   int
	Stream   Stream
	Module   uint64
	Function string
	Grid     [3]uint32
	Block    [3]uint32
	Bindings []Ptr
	Push     []byte
}

// Backend is a device backend. Implementations are safe for concurrent
// use; Close is called alone.
type Backend interface {
	// Name is the backend's name ("cpu", "vulkan", "cuda", ...).
	Name() string
	// Caps reports what the backend offers beyond the f32 op set.
	Caps() Caps
	// Devices lists the devices, index = device number.
	Devices() ([]Info, error)

	// Alloc returns a handle to bytes of device memory (contents
	// unspecified). ErrExhausted when the device is out of memory.
	Alloc(dev int, bytes uint64) (uint64, error)
	// Free releases a handle; a second Free is ErrNotFound.
	Free(dev int, handle uint64) error
	// CopyIn copies src to dst; CopyOut copies src to dst; CopyDevice copies
	// bytes between two views on the same device.
	CopyIn(dev int, dst Ptr, src []byte, s Stream) error
	CopyOut(dev int, dst []byte, src Ptr, s Stream) error
	CopyDevice(dev int, dst, src Ptr, bytes uint64, s Stream) error

	// Supported reports whether Launch accepts op (kind, dtype, shape).
	Supported(op *Op) bool
	// Launch runs a built-in op.
	Launch(op *Op) error

	NewStream(dev int) (Stream, error)
	SyncStream(dev int, s Stream) error
	FreeStream(dev int, s Stream) error
	// Sync waits for everything queued on the device.
	Sync(dev int) error

	// LoadModule loads native code (ErrUnsupported where the format is
	// not offered); LaunchModule runs one of its functions.
	LoadModule(dev int, format ModuleFormat, code []byte) (uint64, error)
	UnloadModule(dev int, module uint64) error
	LaunchModule(l *Launch) error

	// Close finishes pending work and releases everything; later calls
	// fail with ErrClosed.
	Close() error
}

// Errors of the device layer. Test for them with errors.Is.
var (
	ErrInvalid     = errors.New("device: invalid argument")
	ErrNotFound    = errors.New("device: not found")
	ErrTimeout     = errors.New("device: timeout")
	ErrExhausted   = errors.New("device: out of device memory")
	ErrClosed      = errors.New("device: backend closed")
	ErrUnsupported = errors.New("device: unsupported")
	ErrInternal    = errors.New("device: driver error")
	ErrTooLarge    = errors.New("device: over a device limit")
	ErrLost        = errors.New("device: device lost")
	// ErrSwapped: the buffer belonged to a backend that was swapped out.
	ErrSwapped = errors.New("device: buffer belongs to a backend that was swapped out")
)

// Status codes of abi/stark_device.h.
const (
	statusOK          = 0
	statusInvalid     = 1
	statusNotFound    = 2
	statusTimeout     = 3
	statusExhausted   = 5
	statusStopped     = 6
	statusUnsupported = 7
	statusInternal    = 8
	statusTooLarge    = 10
	statusLost        = 12
)

// errorOf maps a status to its sentinel.
func errorOf(status int32) error {
	switch status {
	case statusOK:
		return nil
	case statusInvalid:
		return ErrInvalid
	case statusNotFound:
		return ErrNotFound
	case statusTimeout:
		return ErrTimeout
	case statusExhausted:
		return ErrExhausted
	case statusStopped:
		return ErrClosed
	case statusUnsupported:
		return ErrUnsupported
	case statusTooLarge:
		return ErrTooLarge
	case statusLost:
		return ErrLost
	}
	return ErrInternal
}

// StatusOf maps an error of this package to the contract's status code.
func StatusOf(err error) int32 {
	switch {
	case err == nil:
		return statusOK
	case errors.Is(err, ErrInvalid):
		return statusInvalid
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrSwapped):
		return statusNotFound
	case errors.Is(err, ErrTimeout):
		return statusTimeout
	case errors.Is(err, ErrExhausted):
		return statusExhausted
	case errors.Is(err, ErrClosed):
		return statusStopped
	case errors.Is(err, ErrUnsupported):
		return statusUnsupported
	case errors.Is(err, ErrTooLarge):
		return statusTooLarge
	case errors.Is(err, ErrLost):
		return statusLost
	}
	return statusInternal
}

// Error is a failure reported by a backend: which call, and its message.
type Error struct {
	Backend string
	Call    string
	Kind    error // one of the sentinels above
	Msg     string
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("device %s: %s: %v", e.Backend, e.Call, e.Kind)
	}
	return fmt.Sprintf("device %s: %s: %v: %s", e.Backend, e.Call, e.Kind, e.Msg)
}

// Unwrap returns the kind.
func (e *Error) Unwrap() error { return e.Kind }

func errf(backend, call string, kind error, format string, args ...any) error {
	return &Error{Backend: backend, Call: call, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
