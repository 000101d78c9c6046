package device

import (
	"context"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/stark-rt/stark/host/task"
)

// CPU is the built-in backend: one device, the host's cores. Memory is
// host memory; ops run in parallel chunks on an Executor (the runtime's
// scheduler workers when given one, else goroutines), and matmul is
// cache-blocked with a vectorised micro-kernel where the machine has one.
// It has no streams of its own: every call is synchronous, and a stream
// handle is accepted and ignored.
type CPU struct {
	exec  task.Executor
	limit uint64

	mu     sync.RWMutex
	bufs   map[uint64][]byte
	next   uint64
	used   uint64
	closed bool

	streams atomic.Uint64
}

// CPUOption configures NewCPU.
type CPUOption func(*CPU)

// WithExecutor runs the backend's parallel work on ex (a Runtime's
// Executor puts it on the scheduler's workers).
func WithExecutor(ex task.Executor) CPUOption { return func(c *CPU) { c.exec = ex } }

// WithMemoryLimit caps the bytes the backend hands out (default: half the
// machine's memory).
func WithMemoryLimit(bytes uint64) CPUOption { return func(c *CPU) { c.limit = bytes } }

// NewCPU returns the cpu backend.
func NewCPU(opts ...CPUOption) *CPU {
	c := &CPU{exec: task.GoExecutor{}, bufs: map[uint64][]byte{}, limit: physicalMemory() / 2}
	for _, o := range opts {
		o(c)
	}
	if c.limit == 0 {
		c.limit = 4 << 30
	}
	return c
}

// physicalMemory reads MemTotal from /proc/meminfo (0 when unknown).
func physicalMemory() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

const cpuName = "cpu"

// Name returns "cpu".
func (c *CPU) Name() string { return cpuName }

// Caps: the cpu backend's memory is host memory.
func (c *CPU) Caps() Caps { return CapUnified }

// Devices returns the one cpu device.
func (c *CPU) Devices() ([]Info, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	c.mu.RLock()
	used := c.used
	c.mu.RUnlock()
	return []Info{{
		Name: "host cpu (" + runtime.GOARCH + ")", Vendor: "stark", Type: TypeCPU,
		MemoryTotal: c.limit, MemoryFree: c.limit - min(used, c.limit),
		MaxAlloc: c.limit, MaxBinding: c.limit, ComputeUnits: runtime.GOMAXPROCS(0),
	}}, nil
}

func (c *CPU) check() error {
	c.mu.RLock()
	closed := c.closed
	c.mu.RUnlock()
	if closed {
		return errf(cpuName, "call", ErrClosed, "")
	}
	return nil
}

func (c *CPU) dev(call string, dev int) error {
	if dev != 0 {
		return errf(cpuName, call, ErrNotFound, "device %d (the cpu backend has device 0 only)", dev)
	}
	return nil
}

// Alloc returns bytes of 8-byte aligned host memory.
func (c *CPU) Alloc(dev int, bytes uint64) (uint64, error) {
	if err := c.dev("alloc", dev); err != nil {
		return 0, err
	}
	if bytes == 0 {
		return 0, errf(cpuName, "alloc", ErrInvalid, "zero bytes")
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, errf(cpuName, "alloc", ErrClosed, "")
	}
	if bytes > c.limit-min(c.used, c.limit) {
		c.mu.Unlock()
		return 0, errf(cpuName, "alloc", ErrExhausted, "%d bytes requested, %d of %d in use", bytes, c.used, c.limit)
	}
	c.used += bytes
	c.next++
	h := c.next
	c.mu.Unlock()
	words := make([]uint64, (bytes+7)/8) // zeroed, 8-byte aligned
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), bytes)
	c.mu.Lock()
	c.bufs[h] = b
	c.mu.Unlock()
	return h, nil
}

// Free releases a handle.
func (c *CPU) Free(dev int, h uint64) error {
	if err := c.dev("free", dev); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.bufs[h]
	if !ok {
		return errf(cpuName, "free", ErrNotFound, "buffer %#x (freed already, or never allocated)", h)
	}
	delete(c.bufs, h)
	c.used -= uint64(len(b))
	return nil
}

// view returns bytes [p.Offset, p.Offset+n) of p's buffer.
func (c *CPU) view(call string, p Ptr, n uint64) ([]byte, error) {
	c.mu.RLock()
	b, ok := c.bufs[p.Handle]
	closed := c.closed
	c.mu.RUnlock()
	switch {
	case closed:
		return nil, errf(cpuName, call, ErrClosed, "")
	case !ok:
		return nil, errf(cpuName, call, ErrNotFound, "buffer %#x", p.Handle)
	case p.Offset > uint64(len(b)) || n > uint64(len(b))-p.Offset:
		return nil, errf(cpuName, call, ErrInvalid, "bytes [%d, %d+%d) outside the %d-byte buffer %#x", p.Offset, p.Offset, n, len(b), p.Handle)
	}
	return b[p.Offset : p.Offset+n : p.Offset+n], nil
}

// f32 returns n floats at p (which must be 4-byte aligned).
func (c *CPU) f32(call string, p Ptr, n uint64) ([]float32, error) {
	if n > math.MaxInt64/4 {
		return nil, errf(cpuName, call, ErrInvalid, "%d elements", n)
	}
	if p.Offset%4 != 0 {
		return nil, errf(cpuName, call, ErrInvalid, "offset %d is not a multiple of 4 (f32)", p.Offset)
	}
	b, err := c.view(call, p, n*4)
	if err != nil || n == 0 {
		return nil, err
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n), nil
}

// CopyIn copies host bytes to the device.
func (c *CPU) CopyIn(dev int, dst Ptr, src []byte, _ Stream) error {
	if err := c.dev("copy_in", dev); err != nil {
		return err
	}
	d, err := c.view("copy_in", dst, uint64(len(src)))
	if err != nil {
		return err
	}
	copy(d, src)
	return nil
}

// CopyOut copies device bytes to the host.
func (c *CPU) CopyOut(dev int, dst []byte, src Ptr, _ Stream) error {
	if err := c.dev("copy_out", dev); err != nil {
		return err
	}
	s, err := c.view("copy_out", src, uint64(len(dst)))
	if err != nil {
		return err
	}
	copy(dst, s)
	return nil
}

// CopyDevice copies between two views.
func (c *CPU) CopyDevice(dev int, dst, src Ptr, n uint64, _ Stream) error {
	if err := c.dev("copy_device", dev); err != nil {
		return err
	}
	d, err := c.view("copy_device", dst, n)
	if err != nil {
		return err
	}
	s, err := c.view("copy_device", src, n)
	if err != nil {
		return err
	}
	copy(d, s)
	return nil
}

// Supported: every op in f32.
func (c *CPU) Supported(op *Op) bool {
	return op != nil && op.DType == F32 && op.Kind >= OpFill && op.Kind <= OpSoftmax && op.Device == 0
}

// parallelGrain is the number of elements below which an elementwise op
// runs on the calling goroutine.
const parallelGrain = 1 << 16

// forChunks runs f over [0, n) in parallel chunks.
func (c *CPU) forChunks(n, grain int, f func(lo, hi int)) {
	if n <= grain {
		f(0, n)
		return
	}
	_ = task.Range(context.Background(), c.exec, n, grain, func(lo, hi int) error {
		f(lo, hi)
		return nil
	})
}

// Launch runs a built-in op synchronously.
func (c *CPU) Launch(op *Op) error {
	if op == nil {
		return errf(cpuName, "launch", ErrInvalid, "nil op")
	}
	if err := c.dev("launch", op.Device); err != nil {
		return err
	}
	if op.DType != F32 {
		return errf(cpuName, op.Kind.String(), ErrUnsupported, "dtype %v (the cpu backend computes f32)", op.DType)
	}
	n := op.N
	switch op.Kind {
	case OpFill:
		dst, err := c.f32("fill", op.C, n)
		if err != nil {
			return err
		}
		v := float32(op.Alpha)
		c.forChunks(len(dst), parallelGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				dst[i] = v
			}
		})
	case OpCopy, OpScale, OpRelu, OpAxpy:
		a, err := c.f32(op.Kind.String(), op.A, n)
		if err != nil {
			return err
		}
		dst, err := c.f32(op.Kind.String(), op.C, n)
		if err != nil {
			return err
		}
		alpha := float32(op.Alpha)
		kind := op.Kind
		c.forChunks(len(dst), parallelGrain, func(lo, hi int) {
			switch kind {
			case OpCopy:
				copy(dst[lo:hi], a[lo:hi])
			case OpScale:
				for i := lo; i < hi; i++ {
					dst[i] = alpha * a[i]
				}
			case OpRelu:
				for i := lo; i < hi; i++ {
					dst[i] = max(a[i], 0)
				}
			case OpAxpy:
				for i := lo; i < hi; i++ {
					dst[i] += alpha * a[i]
				}
			}
		})
	case OpAdd, OpMul:
		a, err := c.f32(op.Kind.String(), op.A, n)
		if err != nil {
			return err
		}
		b, err := c.f32(op.Kind.String(), op.B, n)
		if err != nil {
			return err
		}
		dst, err := c.f32(op.Kind.String(), op.C, n)
		if err != nil {
			return err
		}
		add := op.Kind == OpAdd
		c.forChunks(len(dst), parallelGrain, func(lo, hi int) {
			if add {
				for i := lo; i < hi; i++ {
					dst[i] = a[i] + b[i]
				}
			} else {
				for i := lo; i < hi; i++ {
					dst[i] = a[i] * b[i]
				}
			}
		})
	case OpReduceSum, OpReduceMax, OpSoftmax:
		return c.rows(op)
	case OpMatmul:
		return c.matmul(op)
	default:
		return errf(cpuName, "launch", ErrInvalid, "unknown op kind %d", op.Kind)
	}
	return nil
}

// rows runs the row-wise ops: reduce sum/max and softmax over m rows of n.
func (c *CPU) rows(op *Op) error {
	m, n := max(op.M, 1), op.N
	if n == 0 {
		return errf(cpuName, op.Kind.String(), ErrInvalid, "rows of 0 elements")
	}
	lda := op.LDA
	if lda == 0 {
		lda = n
	}
	if lda < n || m > math.MaxInt64/lda {
		return errf(cpuName, op.Kind.String(), ErrInvalid, "lda %d < n %d, or too large", lda, n)
	}
	a, err := c.f32(op.Kind.String(), op.A, (m-1)*lda+n)
	if err != nil {
		return err
	}
	if op.Kind == OpSoftmax {
		ldc := op.LDC
		if ldc == 0 {
			ldc = n
		}
		if ldc < n {
			return errf(cpuName, "softmax", ErrInvalid, "ldc %d < n %d", ldc, n)
		}
		out, err := c.f32("softmax", op.C, (m-1)*ldc+n)
		if err != nil {
			return err
		}
		c.forChunks(int(m), max(1, parallelGrain/int(n)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row := a[uint64(r)*lda : uint64(r)*lda+n]
				dst := out[uint64(r)*ldc : uint64(r)*ldc+n]
				mx := float32(math.Inf(-1))
				for _, v := range row {
					mx = max(mx, v)
				}
				var sum float64
				for j, v := range row {
					e := float32(math.Exp(float64(v - mx)))
					dst[j] = e
					sum += float64(e)
				}
				inv := float32(1 / sum)
				for j := range dst {
					dst[j] *= inv
				}
			}
		})
		return nil
	}
	out, err := c.f32(op.Kind.String(), op.C, m)
	if err != nil {
		return err
	}
	sum := op.Kind == OpReduceSum
	c.forChunks(int(m), max(1, parallelGrain/int(n)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := a[uint64(r)*lda : uint64(r)*lda+n]
			if sum {
				var s float64 // accumulate in f64: long rows stay accurate
				for _, v := range row {
					s += float64(v)
				}
				out[r] = float32(s)
			} else {
				mx := row[0]
				for _, v := range row[1:] {
					mx = max(mx, v)
				}
				out[r] = mx
			}
		}
	})
	return nil
}

// matmul checks shapes and runs sgemm.
func (c *CPU) matmul(op *Op) error {
	m, n, k := op.M, op.N, op.K
	if m == 0 || n == 0 || k == 0 || m > 1<<31 || n > 1<<31 || k > 1<<31 {
		return errf(cpuName, "matmul", ErrInvalid, "shape %dx%dx%d", m, n, k)
	}
	// Stored shapes: A is m x k (k x m transposed), B k x n (n x k).
	ar, ac := m, k
	if op.TransA {
		ar, ac = k, m
	}
	br, bc := k, n
	if op.TransB {
		br, bc = n, k
	}
	lda, ldb, ldc := op.LDA, op.LDB, op.LDC
	if lda == 0 {
		lda = ac
	}
	if ldb == 0 {
		ldb = bc
	}
	if ldc == 0 {
		ldc = n
	}
	if lda < ac || ldb < bc || ldc < n {
		return errf(cpuName, "matmul", ErrInvalid, "leading dimensions %d/%d/%d below the row lengths %d/%d/%d", lda, ldb, ldc, ac, bc, n)
	}
	a, err := c.f32("matmul", op.A, (ar-1)*lda+ac)
	if err != nil {
		return err
	}
	b, err := c.f32("matmul", op.B, (br-1)*ldb+bc)
	if err != nil {
		return err
	}
	dst, err := c.f32("matmul", op.C, (m-1)*ldc+n)
	if err != nil {
		return err
	}
	sgemm(c, int(m), int(n), int(k), float32(op.Alpha), a, int(lda), op.TransA, b, int(ldb), op.TransB, float32(op.Beta), dst, int(ldc))
	return nil
}

// NewStream returns a stream id; the cpu backend runs everything at once.
func (c *CPU) NewStream(dev int) (Stream, error) {
	if err := c.dev("stream_create", dev); err != nil {
		return 0, err
	}
	return Stream(c.streams.Add(1)), c.check()
}

// SyncStream returns at once: cpu work is synchronous.
func (c *CPU) SyncStream(dev int, _ Stream) error { return c.dev("stream_sync", dev) }

// FreeStream forgets a stream.
func (c *CPU) FreeStream(dev int, _ Stream) error { return c.dev("stream_destroy", dev) }

// Sync returns at once.
func (c *CPU) Sync(dev int) error {
	if err := c.dev("synchronize", dev); err != nil {
		return err
	}
	return c.check()
}

// LoadModule: the cpu backend runs no native modules.
func (c *CPU) LoadModule(int, ModuleFormat, []byte) (uint64, error) {
	return 0, errf(cpuName, "module_load", ErrUnsupported, "the cpu backend loads no native modules")
}

// UnloadModule: nothing to unload.
func (c *CPU) UnloadModule(int, uint64) error {
	return errf(cpuName, "module_unload", ErrNotFound, "no modules")
}

// LaunchModule: unsupported.
func (c *CPU) LaunchModule(*Launch) error {
	return errf(cpuName, "module_launch", ErrUnsupported, "the cpu backend loads no native modules")
}

// Close releases every buffer.
func (c *CPU) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.bufs = map[uint64][]byte{}
	c.used = 0
	return nil
}

var _ Backend = (*CPU)(nil)
