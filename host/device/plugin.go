package device

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ABIVersion is the version of abi/stark_device.h this host speaks.
const ABIVersion = 1

// The C structs of abi/stark_device.h, laid out as the C compiler does
// (amd64 and arm64 LP64): sizes are checked in plugin_test.go.
type cInit struct {
	structSize uint32
	flags      uint32
	options    *byte
}

type cInfo struct {
	structSize   uint32
	typ          uint32
	name         [128]byte
	vendor       [64]byte
	memoryTotal  uint64
	memoryFree   uint64
	maxAlloc     uint64
	maxBinding   uint64
	computeUnits uint32
	reserved     uint32
}

type cBuf struct{ Handle, Offset uint64 } // the same fields as Ptr: convertible

type cCopy struct {
	structSize uint32
	kind       uint32
	device     uint32
	reserved   uint32
	stream     uint64
	src, dst   cBuf
	hostSrc    unsafe.Pointer
	hostDst    unsafe.Pointer
	bytes      uint64
}

type cOp struct {
	structSize     uint32
	kind           uint32
	dtype          uint32
	device         uint32
	stream         uint64
	a, b, c        cBuf
	m, n, k        uint64
	lda, ldb, ldc  uint64
	transA, transB uint32
	alpha, beta    float64
}

type cLaunch struct {
	structSize uint32
	device     uint32
	stream     uint64
	module     uint64
	function   *byte
	grid       [3]uint32
	block      [3]uint32
	bindings   unsafe.Pointer
	nBindings  uint32
	pushSize   uint32
	push       unsafe.Pointer
}

// cAPI mirrors stark_device_api: the function pointers in table order.
type cAPI struct {
	structSize    uint32
	abiVersion    uint32
	name          *byte
	caps          uint64
	init          uintptr
	shutdown      uintptr
	lastError     uintptr
	deviceCount   uintptr
	deviceInfo    uintptr
	memAlloc      uintptr
	memFree       uintptr
	memcpy        uintptr
	streamCreate  uintptr
	streamDestroy uintptr
	streamSync    uintptr
	eventRecord   uintptr
	eventSync     uintptr
	eventDestroy  uintptr
	synchronize   uintptr
	opSupported   uintptr
	launchOp      uintptr
	moduleLoad    uintptr
	moduleUnload  uintptr
	moduleLaunch  uintptr
}

// Copy kinds.
const (
	copyH2D = 0
	copyD2H = 1
	copyD2D = 2
)

// Plugin is a backend loaded from a shared library through purego (no
// cgo): the library's stark_device_query table wrapped as a Backend. The
// library is never unloaded (its code may still run in threads it owns
// until Close returns, and dlclose gains nothing).
type Plugin struct {
	path  string
	name  string
	score uint32
	api   cAPI
	caps  Caps

	mu     sync.RWMutex
	closed bool
}

// PluginInfo is what Probe learns about a plugin without initialising it.
type PluginInfo struct {
	Path  string
	Name  string
	Score uint32 // 0: cannot run here
}

func cstr(p *byte) string {
	if p == nil {
		return ""
	}
	var n int
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 && n < 4096 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

func cbytes(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// open loads the library and reads its table (without initialising it).
func open(path string) (*Plugin, error) {
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotFound, path, err)
	}
	scoreFn, err := purego.Dlsym(lib, "stark_device_score")
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not export stark_device_score: it is not a STARK device plugin", ErrInvalid, path)
	}
	queryFn, err := purego.Dlsym(lib, "stark_device_query")
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not export stark_device_query: it is not a STARK device plugin", ErrInvalid, path)
	}
	score, _, _ := purego.SyscallN(scoreFn)
	table, _, _ := purego.SyscallN(queryFn, ABIVersion)
	if table == 0 {
		return nil, fmt.Errorf("%w: %s does not serve device ABI version %d", ErrUnsupported, path, ABIVersion)
	}
	p := &Plugin{path: path, score: uint32(score)}
	src := *(**cAPI)(unsafe.Pointer(&table)) // a C pointer the plugin owns for its lifetime
	size := uintptr(src.structSize)
	if size < unsafe.Offsetof(p.api.launchOp)+8 {
		return nil, fmt.Errorf("%w: %s: function table of %d bytes is too small", ErrInvalid, path, size)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&p.api)), unsafe.Sizeof(p.api)),
		unsafe.Slice((*byte)(unsafe.Pointer(src)), min(size, unsafe.Sizeof(p.api))))
	p.name, p.caps = cstr(p.api.name), Caps(p.api.caps)
	if p.name == "" {
		return nil, fmt.Errorf("%w: %s: the table has no name", ErrInvalid, path)
	}
	if p.api.abiVersion != ABIVersion {
		return nil, fmt.Errorf("%w: %s implements device ABI %d, this host %d", ErrUnsupported, path, p.api.abiVersion, ABIVersion)
	}
	return p, nil
}

// Probe loads a plugin and asks its score, without initialising it.
func Probe(path string) (PluginInfo, error) {
	p, err := open(path)
	if err != nil {
		return PluginInfo{Path: path}, err
	}
	return PluginInfo{Path: path, Name: p.name, Score: p.score}, nil
}

// LoadPlugin loads and initialises the plugin at path. options is passed to
// the plugin's init ("" for none).
func LoadPlugin(path, options string) (*Plugin, error) {
	p, err := open(path)
	if err != nil {
		return nil, err
	}
	if p.score == 0 {
		return nil, fmt.Errorf("%w: %s (%s) scores 0: no usable driver or device here", ErrUnsupported, p.name, path)
	}
	in := cInit{structSize: uint32(unsafe.Sizeof(cInit{}))}
	var opt []byte
	if options != "" {
		opt = append([]byte(options), 0)
		in.options = &opt[0]
	}
	if err := p.call("init", p.api.init, uintptr(unsafe.Pointer(&in))); err != nil {
		return nil, err
	}
	runtime.KeepAlive(opt)
	return p, nil
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return p.name }

// Path returns where it was loaded from.
func (p *Plugin) Path() string { return p.path }

// Score returns the plugin's score.
func (p *Plugin) Score() uint32 { return p.score }

// Caps returns the plugin's capabilities.
func (p *Plugin) Caps() Caps { return p.caps }

// lastError copies the plugin's message for the calling thread.
func (p *Plugin) lastError() string {
	if p.api.lastError == 0 {
		return ""
	}
	var buf [512]byte
	purego.SyscallN(p.api.lastError, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return cbytes(buf[:])
}

// call invokes a table entry and turns its status into an error. The
// plugin's last error is read on the same OS thread. go:uintptrescapes
// keeps what the uintptr arguments point to alive and in place (on the
// heap, not on a stack that may move) until the call returns.
//
//go:uintptrescapes
func (p *Plugin) call(name string, fn uintptr, args ...uintptr) error {
	if fn == 0 {
		return errf(p.name, name, ErrUnsupported, "the plugin does not implement %s", name)
	}
	p.mu.RLock()
	closed := p.closed
	p.mu.RUnlock()
	if closed {
		return errf(p.name, name, ErrClosed, "")
	}
	runtime.LockOSThread() // the plugin's last error is per thread
	r, _, _ := purego.SyscallN(fn, args...)
	st := int32(uint32(r))
	var msg string
	if st != statusOK {
		msg = p.lastError()
	}
	runtime.UnlockOSThread()
	if st == statusOK {
		return nil
	}
	return &Error{Backend: p.name, Call: name, Kind: errorOf(st), Msg: msg}
}

func devNum(dev int) (uintptr, error) {
	if dev < 0 || dev > 1<<20 {
		return 0, fmt.Errorf("%w: device %d", ErrNotFound, dev)
	}
	return uintptr(dev), nil
}

// Devices lists the plugin's devices.
func (p *Plugin) Devices() ([]Info, error) {
	var n uint32
	if err := p.call("device_count", p.api.deviceCount, uintptr(unsafe.Pointer(&n))); err != nil {
		return nil, err
	}
	out := make([]Info, 0, n)
	for i := uint32(0); i < n; i++ {
		ci := cInfo{structSize: uint32(unsafe.Sizeof(cInfo{}))}
		if err := p.call("device_info", p.api.deviceInfo, uintptr(i), uintptr(unsafe.Pointer(&ci))); err != nil {
			return nil, err
		}
		out = append(out, Info{Name: cbytes(ci.name[:]), Vendor: cbytes(ci.vendor[:]), Type: Type(ci.typ),
			MemoryTotal: ci.memoryTotal, MemoryFree: ci.memoryFree, MaxAlloc: ci.maxAlloc,
			MaxBinding: ci.maxBinding, ComputeUnits: int(ci.computeUnits)})
	}
	return out, nil
}

// Alloc allocates device memory.
func (p *Plugin) Alloc(dev int, bytes uint64) (uint64, error) {
	d, err := devNum(dev)
	if err != nil {
		return 0, err
	}
	var h uint64
	err = p.call("mem_alloc", p.api.memAlloc, d, uintptr(bytes), uintptr(unsafe.Pointer(&h)))
	return h, err
}

// Free releases device memory.
func (p *Plugin) Free(dev int, h uint64) error {
	d, err := devNum(dev)
	if err != nil {
		return err
	}
	return p.call("mem_free", p.api.memFree, d, uintptr(h))
}

func (p *Plugin) copy(c *cCopy) error {
	c.structSize = uint32(unsafe.Sizeof(*c))
	return p.call("memcpy", p.api.memcpy, uintptr(unsafe.Pointer(c)))
}

// CopyIn copies host bytes to the device. With a non-zero stream src must
// stay untouched until the stream is synchronised.
func (p *Plugin) CopyIn(dev int, dst Ptr, src []byte, s Stream) error {
	if len(src) == 0 {
		return nil
	}
	c := cCopy{kind: copyH2D, device: uint32(dev), stream: uint64(s), dst: cBuf(dst), hostSrc: unsafe.Pointer(&src[0]), bytes: uint64(len(src))}
	err := p.copy(&c)
	runtime.KeepAlive(src)
	return err
}

// CopyOut copies device bytes to the host.
func (p *Plugin) CopyOut(dev int, dst []byte, src Ptr, s Stream) error {
	if len(dst) == 0 {
		return nil
	}
	c := cCopy{kind: copyD2H, device: uint32(dev), stream: uint64(s), src: cBuf(src), hostDst: unsafe.Pointer(&dst[0]), bytes: uint64(len(dst))}
	err := p.copy(&c)
	runtime.KeepAlive(dst)
	return err
}

// CopyDevice copies between two views on the device.
func (p *Plugin) CopyDevice(dev int, dst, src Ptr, bytes uint64, s Stream) error {
	c := cCopy{kind: copyD2D, device: uint32(dev), stream: uint64(s), src: cBuf(src), dst: cBuf(dst), bytes: bytes}
	return p.copy(&c)
}

func toCOp(op *Op) cOp {
	c := cOp{structSize: uint32(unsafe.Sizeof(cOp{})), kind: uint32(op.Kind), dtype: uint32(op.DType),
		device: uint32(op.Device), stream: uint64(op.Stream), a: cBuf(op.A), b: cBuf(op.B), c: cBuf(op.C),
		m: op.M, n: op.N, k: op.K, lda: op.LDA, ldb: op.LDB, ldc: op.LDC, alpha: op.Alpha, beta: op.Beta}
	if op.TransA {
		c.transA = 1
	}
	if op.TransB {
		c.transB = 1
	}
	return c
}

// Supported asks the plugin whether it takes op.
func (p *Plugin) Supported(op *Op) bool {
	if op == nil {
		return false
	}
	c := toCOp(op)
	return p.call("op_supported", p.api.opSupported, uintptr(unsafe.Pointer(&c))) == nil
}

// Launch runs a built-in op.
func (p *Plugin) Launch(op *Op) error {
	if op == nil {
		return errf(p.name, "launch_op", ErrInvalid, "nil op")
	}
	c := toCOp(op)
	return p.call("launch_op", p.api.launchOp, uintptr(unsafe.Pointer(&c)))
}

// NewStream creates a stream.
func (p *Plugin) NewStream(dev int) (Stream, error) {
	var s uint64
	err := p.call("stream_create", p.api.streamCreate, uintptr(dev), uintptr(unsafe.Pointer(&s)))
	return Stream(s), err
}

// SyncStream waits for a stream's work.
func (p *Plugin) SyncStream(dev int, s Stream) error {
	return p.call("stream_sync", p.api.streamSync, uintptr(dev), uintptr(s))
}

// FreeStream destroys a stream.
func (p *Plugin) FreeStream(dev int, s Stream) error {
	return p.call("stream_destroy", p.api.streamDestroy, uintptr(dev), uintptr(s))
}

// Sync waits for everything on the device.
func (p *Plugin) Sync(dev int) error {
	return p.call("synchronize", p.api.synchronize, uintptr(dev))
}

// LoadModule loads native code.
func (p *Plugin) LoadModule(dev int, format ModuleFormat, code []byte) (uint64, error) {
	if len(code) == 0 {
		return 0, errf(p.name, "module_load", ErrInvalid, "empty module")
	}
	var m uint64
	err := p.call("module_load", p.api.moduleLoad, uintptr(dev), uintptr(format),
		uintptr(unsafe.Pointer(&code[0])), uintptr(len(code)), uintptr(unsafe.Pointer(&m)))
	runtime.KeepAlive(code)
	return m, err
}

// UnloadModule unloads native code.
func (p *Plugin) UnloadModule(dev int, m uint64) error {
	return p.call("module_unload", p.api.moduleUnload, uintptr(dev), uintptr(m))
}

// LaunchModule runs a module function.
func (p *Plugin) LaunchModule(l *Launch) error {
	if l == nil || l.Function == "" {
		return errf(p.name, "module_launch", ErrInvalid, "no function")
	}
	fn := append([]byte(l.Function), 0)
	c := cLaunch{structSize: uint32(unsafe.Sizeof(cLaunch{})), device: uint32(l.Device), stream: uint64(l.Stream),
		module: l.Module, function: &fn[0], grid: l.Grid, block: l.Block,
		nBindings: uint32(len(l.Bindings)), pushSize: uint32(len(l.Push))}
	var binds []cBuf
	if len(l.Bindings) > 0 {
		binds = make([]cBuf, len(l.Bindings))
		for i, b := range l.Bindings {
			binds[i] = cBuf(b)
		}
		c.bindings = unsafe.Pointer(&binds[0])
	}
	if len(l.Push) > 0 {
		c.push = unsafe.Pointer(&l.Push[0])
	}
	err := p.call("module_launch", p.api.moduleLaunch, uintptr(unsafe.Pointer(&c)))
	runtime.KeepAlive(fn)
	runtime.KeepAlive(binds)
	runtime.KeepAlive(l.Push)
	return err
}

// Close shuts the plugin down (it joins its threads); the library stays
// loaded. Later calls fail with ErrClosed.
func (p *Plugin) Close() error {
	err := p.call("shutdown", p.api.shutdown)
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return err
}

var _ Backend = (*Plugin)(nil)
