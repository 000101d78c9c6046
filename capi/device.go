package main

/*
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include "stark.h"
typedef const void *stark__cvoid;
typedef const char *stark__cchar;
typedef const stark_device_op *stark__cdevop;

// The directory libstark was loaded from (plugins live in its stark/).
static inline const char *stark__lib_path(void) {
    Dl_info info;
    if (dladdr((void *)stark__lib_path, &info) && info.dli_fname) return info.dli_fname;
    return "";
}
*/
import "C"

import (
	"errors"
	"path/filepath"
	"unsafe"

	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/device"
)

// dbufObj is what a stark_dbuf handle names.
type dbufObj struct {
	rt *runtimeObj
	b  *device.Buffer
}

var dbufs table[dbufObj]

// pluginDirs: the runtime's configured path, then lib/stark next to libstark.
func (r *runtimeObj) pluginDirs() []string {
	var dirs []string
	if r.backendPath != "" {
		dirs = append(dirs, filepath.SplitList(r.backendPath)...)
	}
	if lib := C.GoString(C.stark__lib_path()); lib != "" {
		dirs = append(dirs, filepath.Join(filepath.Dir(lib), "stark"))
	}
	return dirs
}

// devices returns the runtime's device manager, starting it on first use.
func (r *runtimeObj) devices() (*device.Manager, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dev == nil {
		m, err := device.Open(device.Options{Name: r.deviceName, Paths: r.pluginDirs(), Executor: r.rt.Executor()})
		if err != nil {
			return nil, err
		}
		r.dev = m
	}
	return r.dev, nil
}

func putCString(dst []C.char, s string) {
	if len(dst) == 0 {
		return
	}
	n := min(len(s), len(dst)-1)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), len(dst))
	copy(b, s[:n])
	b[n] = 0
}

//export stark_device_backends
func stark_device_backends(h C.stark_runtime, items *C.stark_backend_info, capacity C.size_t, n *C.size_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_backends"
	if n == nil || (items == nil && capacity > 0) {
		return fail(sInvalid, "%s: NULL n, or NULL items with a capacity", fn)
	}
	*n = 0
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	cur := ""
	r.mu.Lock()
	if r.dev != nil {
		cur = r.dev.Name()
	}
	r.mu.Unlock()
	cands := device.Discover(r.pluginDirs())
	out := unsafe.Slice(items, int(min(capacity, 1024)))
	k := 0
	for _, c := range cands {
		if k == len(out) {
			break
		}
		it := &out[k]
		*it = C.stark_backend_info{struct_size: C.sizeof_stark_backend_info, score: C.uint32_t(c.Score)}
		if c.Name == cur {
			it.current = 1
		}
		putCString(it.name[:], c.Name)
		putCString(it.path[:], c.Path)
		if c.Err != nil {
			putCString(it.error[:], c.Err.Error())
		}
		k++
	}
	*n = C.size_t(k)
	return sOK
}

//export stark_device_select
func stark_device_select(h C.stark_runtime, name C.stark__cchar) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_select"
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	want := ""
	if name != nil {
		want = C.GoString((*C.char)(unsafe.Pointer(name)))
	}
	r.mu.Lock()
	m := r.dev
	r.mu.Unlock()
	if m == nil {
		r.mu.Lock()
		r.deviceName = want
		r.mu.Unlock()
		_, err := r.devices()
		return fromDeviceErr(fn, err)
	}
	return fromDeviceErr(fn, m.Swap(want))
}

//export stark_device_backend_name
func stark_device_backend_name(h C.stark_runtime, name *C.char, capacity C.size_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_backend_name"
	if name == nil || capacity == 0 {
		return fail(sInvalid, "%s: name is NULL or cap is 0", fn)
	}
	_, m, st := runtimeDevices(h, fn)
	if st != sOK {
		return st
	}
	putCString(unsafe.Slice(name, int(min(capacity, 1<<16))), m.Name())
	return sOK
}

// fromDeviceErr records a device error for fn. abi/stark_device.h uses the
// numbers of abi/stark.h, so the status carries over; a lost device, which
// stark.h has no code for, is an internal error with its message.
func fromDeviceErr(fn string, err error) C.stark_status {
	if err == nil {
		return sOK
	}
	setError(fn + ": " + err.Error())
	if errors.Is(err, device.ErrLost) {
		return sInternal
	}
	return C.stark_status(device.StatusOf(err))
}

// runtimeDevices resolves a runtime handle and starts its device backend.
func runtimeDevices(h C.stark_runtime, fn string) (*runtimeObj, *device.Manager, C.stark_status) {
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return nil, nil, st
	}
	m, err := r.devices()
	if err != nil {
		return nil, nil, fromDeviceErr(fn, err)
	}
	return r, m, sOK
}

// deviceInfos lists the devices of the runtime's current backend.
func deviceInfos(h C.stark_runtime, fn string) ([]device.Info, C.stark_status) {
	_, m, st := runtimeDevices(h, fn)
	if st != sOK {
		return nil, st
	}
	infos, err := m.Backend().Devices()
	if err != nil {
		return nil, fromDeviceErr(fn, err)
	}
	return infos, sOK
}

//export stark_device_count
func stark_device_count(h C.stark_runtime, n *C.uint32_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_count"
	if n == nil {
		return fail(sInvalid, "%s: n is NULL", fn)
	}
	*n = 0
	infos, st := deviceInfos(h, fn)
	if st != sOK {
		return st
	}
	*n = C.uint32_t(len(infos))
	return sOK
}

//export stark_device_get_info
func stark_device_get_info(h C.stark_runtime, dev C.uint32_t, out *C.stark_device_info) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_get_info"
	if out == nil || uintptr(out.struct_size) < unsafe.Sizeof(*out) {
		return fail(sInvalid, "%s: out is NULL or its struct_size is not sizeof(stark_device_info)", fn)
	}
	infos, st := deviceInfos(h, fn)
	if st != sOK {
		return st
	}
	if int(dev) >= len(infos) {
		return fail(sNotFound, "%s: device %d of %d", fn, dev, len(infos))
	}
	in := infos[dev]
	*out = C.stark_device_info{struct_size: out.struct_size, _type: C.uint32_t(in.Type),
		memory_total: C.uint64_t(in.MemoryTotal), memory_free: C.uint64_t(in.MemoryFree),
		max_alloc: C.uint64_t(in.MaxAlloc), max_binding: C.uint64_t(in.MaxBinding), compute_units: C.uint32_t(in.ComputeUnits)}
	putCString(out.name[:], in.Name)
	putCString(out.vendor[:], in.Vendor)
	return sOK
}

func lookupDbuf(r *runtimeObj, h C.stark_dbuf, fn string) (*dbufObj, C.stark_status) {
	d := dbufs.get(uint64(h))
	if d == nil || d.rt != r {
		return nil, fail(sNotFound, "%s: device buffer %#x is not valid here (released, moved into a message, or of another runtime)", fn, uint64(h))
	}
	return d, sOK
}

//export stark_device_alloc
func stark_device_alloc(h C.stark_runtime, dev C.uint32_t, bytes C.uint64_t, out *C.stark_dbuf) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_alloc"
	if out == nil {
		return fail(sInvalid, "%s: out is NULL", fn)
	}
	*out = 0
	r, m, st := runtimeDevices(h, fn)
	if st != sOK {
		return st
	}
	b, err := m.Alloc(int(dev), uint64(bytes))
	if err != nil {
		return fromDeviceErr(fn, err)
	}
	hd := dbufs.add(&dbufObj{rt: r, b: b})
	if hd == 0 {
		_ = b.Release()
		return fail(sExhausted, "%s: too many device buffer handles", fn)
	}
	*out = C.stark_dbuf(hd)
	return sOK
}

//export stark_device_release
func stark_device_release(h C.stark_runtime, buf C.stark_dbuf) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_release"
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "%s: runtime handle %#x is not valid", fn, uint64(h))
	}
	if _, st := lookupDbuf(r, buf, fn); st != sOK {
		return st
	}
	d := dbufs.remove(uint64(buf))
	if d == nil {
		return fail(sNotFound, "%s: device buffer %#x was released meanwhile", fn, uint64(buf))
	}
	return fromDeviceErr(fn, d.b.Release())
}

// dbufOf resolves a runtime handle and one of its device buffers.
func dbufOf(h C.stark_runtime, buf C.stark_dbuf, fn string) (*dbufObj, C.stark_status) {
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return nil, st
	}
	return lookupDbuf(r, buf, fn)
}

// hostSide checks the host half of a transfer: n bytes at p (which must
// not be NULL) that fit a device buffer of size bytes.
func hostSide(fn, what string, p unsafe.Pointer, n C.size_t, size uint64) ([]byte, C.stark_status) {
	if p == nil || uint64(n) > size {
		return nil, fail(sInvalid, "%s: %s is NULL or %d bytes exceed the %d-byte buffer", fn, what, uint64(n), size)
	}
	return unsafe.Slice((*byte)(p), int(n)), sOK
}

//export stark_device_write
func stark_device_write(h C.stark_runtime, dst C.stark_dbuf, off C.uint64_t, src C.stark__cvoid, n C.size_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_write"
	d, st := dbufOf(h, dst, fn)
	if st != sOK || n == 0 {
		return st
	}
	b, st := hostSide(fn, "src", unsafe.Pointer(src), n, d.b.Size())
	if st != sOK {
		return st
	}
	return fromDeviceErr(fn, d.b.Write(uint64(off), b))
}

//export stark_device_read
func stark_device_read(h C.stark_runtime, src C.stark_dbuf, off C.uint64_t, dst unsafe.Pointer, n C.size_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_read"
	d, st := dbufOf(h, src, fn)
	if st != sOK || n == 0 {
		return st
	}
	b, st := hostSide(fn, "dst", dst, n, d.b.Size())
	if st != sOK {
		return st
	}
	return fromDeviceErr(fn, d.b.Read(uint64(off), b))
}

//export stark_device_copy
func stark_device_copy(h C.stark_runtime, dst C.stark_dbuf, dstOff C.uint64_t, src C.stark_dbuf, srcOff C.uint64_t, n C.uint64_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_copy"
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	d, st := lookupDbuf(r, dst, fn)
	if st != sOK {
		return st
	}
	s, st := lookupDbuf(r, src, fn)
	if st != sOK {
		return st
	}
	if d.b.Device() != s.b.Device() {
		return fail(sUnsupported, "%s: copies between devices %d and %d go through the host", fn, s.b.Device(), d.b.Device())
	}
	if uint64(dstOff) > d.b.Size() || uint64(n) > d.b.Size()-uint64(dstOff) || uint64(srcOff) > s.b.Size() || uint64(n) > s.b.Size()-uint64(srcOff) {
		return fail(sInvalid, "%s: %d bytes outside one of the buffers", fn, uint64(n))
	}
	dp, err := d.b.Ptr(uint64(dstOff))
	if err != nil {
		return fromDeviceErr(fn, err)
	}
	sp, err := s.b.Ptr(uint64(srcOff))
	if err != nil {
		return fromDeviceErr(fn, err)
	}
	m, err := r.devices()
	if err != nil {
		return fromDeviceErr(fn, err)
	}
	return fromDeviceErr(fn, m.Backend().CopyDevice(d.b.Device(), dp, sp, uint64(n), 0))
}

//export stark_device_run
func stark_device_run(h C.stark_runtime, op C.stark__cdevop) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_run"
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	if op == nil {
		return fail(sInvalid, "%s: op is NULL", fn)
	}
	o := (*C.stark_device_op)(unsafe.Pointer(op))
	if uintptr(o.struct_size) < unsafe.Sizeof(*o) {
		return fail(sInvalid, "%s: op->struct_size %d is not sizeof(stark_device_op)", fn, o.struct_size)
	}
	g := device.Op{Kind: device.OpKind(o.kind), DType: device.DType(o.dtype), M: uint64(o.m), N: uint64(o.n), K: uint64(o.k),
		LDA: uint64(o.lda), LDB: uint64(o.ldb), LDC: uint64(o.ldc), TransA: o.trans_a != 0, TransB: o.trans_b != 0,
		Alpha: float64(o.alpha), Beta: float64(o.beta), Device: -1}
	for _, v := range []struct {
		h   C.stark_dbuf
		off C.uint64_t
		dst *device.Ptr
	}{{o.a, o.a_offset, &g.A}, {o.b, o.b_offset, &g.B}, {o.c, o.c_offset, &g.C}} {
		if v.h == 0 {
			continue // unused by this kind; the backend says if it was needed
		}
		d, st := lookupDbuf(r, v.h, fn)
		if st != sOK {
			return st
		}
		p, err := d.b.Ptr(uint64(v.off))
		if err != nil {
			return fromDeviceErr(fn, err)
		}
		if g.Device >= 0 && g.Device != d.b.Device() {
			return fail(sInvalid, "%s: buffers on different devices", fn)
		}
		g.Device, *v.dst = d.b.Device(), p
	}
	if g.Device < 0 {
		return fail(sInvalid, "%s: no buffers", fn)
	}
	m, err := r.devices()
	if err != nil {
		return fromDeviceErr(fn, err)
	}
	return fromDeviceErr(fn, m.Launch(&g))
}

//export stark_device_sync
func stark_device_sync(h C.stark_runtime, dev C.uint32_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_device_sync"
	_, m, st := runtimeDevices(h, fn)
	if st != sOK {
		return st
	}
	return fromDeviceErr(fn, m.Backend().Sync(int(dev)))
}

//export stark_send_device_buffer
func stark_send_device_buffer(h C.stark_runtime, to C.stark_ref, tag C.uint32_t, buf C.stark_dbuf) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_send_device_buffer"
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	if _, st := lookupDbuf(r, buf, fn); st != sOK {
		return st
	}
	d := dbufs.remove(uint64(buf))
	if d == nil {
		return fail(sNotFound, "%s: device buffer %#x was released meanwhile", fn, uint64(buf))
	}
	// The buffer is an owning value (actor.Releaser): a refused message
	// is dead-lettered, which releases it.
	return fromErr(r.rt.Send(actor.Ref(to), uint32(tag), d.b))
}

//export stark_ctx_take_device_buffer
func stark_ctx_take_device_buffer(c C.stark_ctx, out *C.stark_dbuf) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_ctx_take_device_buffer"
	n, ctx, st := ctxNative(c, fn)
	if st != sOK {
		return st
	}
	if out == nil {
		return fail(sInvalid, "%s: out is NULL", fn)
	}
	m := ctx.Message()
	if m == nil || n.msg.device_buffer == 0 {
		return fail(sNotFound, "%s: the message in hand carries no device buffer", fn)
	}
	m.TakeValue() // the runtime will not release it now
	*out = C.stark_dbuf(n.msg.device_buffer)
	return sOK
}
