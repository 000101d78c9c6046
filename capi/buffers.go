package main

/*
#include "stark.h"
*/
import "C"

import (
	"sync/atomic"
	"unsafe"

	"github.com/stark-rt/stark/host/mem"
)

// bufferObj is what a stark_buffer handle names: one pooled buffer of one
// runtime. The handle stands for the buffer (retain adds a reference to
// the same handle); it goes stale when the last reference is released or
// when the reference moves into a message.
type bufferObj struct {
	rt *runtimeObj
	b  *mem.Buffer
	// refs counts the references held through this handle. The buffer may
	// have more, held through other handles (a retained buffer sent to
	// several actors gives each its own) or by messages in flight: a
	// release through this handle drops one of its own, never another
	// holder's, and the handle goes with its last.
	refs atomic.Int32
}

var buffers table[bufferObj]

func newBufferObj(r *runtimeObj, b *mem.Buffer) *bufferObj {
	o := &bufferObj{rt: r, b: b}
	o.refs.Store(1)
	return o
}

// drop gives up one reference held through handle h (the caller releases
// the buffer's reference or moves it) and removes the handle with its
// last. It reports false when the handle holds none.
func (o *bufferObj) drop(h uint64) bool {
	for {
		n := o.refs.Load()
		if n <= 0 {
			return false
		}
		if o.refs.CompareAndSwap(n, n-1) {
			if n == 1 {
				buffers.remove(h)
			}
			return true
		}
	}
}

func lookupBuffer(r *runtimeObj, h C.stark_buffer, fn string) (*bufferObj, C.stark_status) {
	b := buffers.get(uint64(h))
	if b == nil || b.rt != r || b.refs.Load() <= 0 || b.b.Refs() == 0 {
		return nil, fail(sNotFound, "%s: buffer handle %#x is not valid here (released, moved into a message, or of another runtime)", fn, uint64(h))
	}
	return b, sOK
}

//export stark_buffer_alloc
func stark_buffer_alloc(h C.stark_runtime, size C.size_t, out *C.stark_buffer) (st C.stark_status) {
	defer guard(&st)
	if out == nil {
		return fail(sInvalid, "stark_buffer_alloc: out is NULL")
	}
	*out = 0
	r, st := lookupRuntime(h, "stark_buffer_alloc")
	if st != sOK {
		return st
	}
	if uint64(size) > 1<<62 {
		return fail(sTooLarge, "stark_buffer_alloc: %d bytes can never fit the pool", uint64(size))
	}
	b, err := r.rt.Pool().Get(int(size))
	if err != nil {
		return fromErr(err)
	}
	hb := buffers.add(newBufferObj(r, b))
	if hb == 0 {
		_ = b.Release()
		return fail(sExhausted, "stark_buffer_alloc: too many buffer handles")
	}
	*out = C.stark_buffer(hb)
	return sOK
}

//export stark_buffer_data
func stark_buffer_data(h C.stark_runtime, buf C.stark_buffer, data *unsafe.Pointer, length *C.size_t) (st C.stark_status) {
	defer guard(&st)
	r, st := lookupRuntime(h, "stark_buffer_data")
	if st != sOK {
		return st
	}
	b, st := lookupBuffer(r, buf, "stark_buffer_data")
	if st != sOK {
		return st
	}
	if data == nil && length == nil {
		return fail(sInvalid, "stark_buffer_data: data and len are both NULL")
	}
	bs := b.b.Bytes()
	if data != nil {
		// The array is C memory (the runtime's pool allocator): handing its
		// address to C is no Go pointer.
		*data = unsafe.Pointer(unsafe.SliceData(bs[:cap(bs)]))
	}
	if length != nil {
		*length = C.size_t(len(bs))
	}
	return sOK
}

//export stark_buffer_set_len
func stark_buffer_set_len(h C.stark_runtime, buf C.stark_buffer, n C.size_t) (st C.stark_status) {
	defer guard(&st)
	r, st := lookupRuntime(h, "stark_buffer_set_len")
	if st != sOK {
		return st
	}
	b, st := lookupBuffer(r, buf, "stark_buffer_set_len")
	if st != sOK {
		return st
	}
	if uint64(n) > uint64(b.b.Cap()) {
		return fail(sInvalid, "stark_buffer_set_len: %d is over the buffer's capacity %d", uint64(n), b.b.Cap())
	}
	return fromErr(b.b.SetLen(int(n)))
}

//export stark_buffer_retain
func stark_buffer_retain(h C.stark_runtime, buf C.stark_buffer) (st C.stark_status) {
	defer guard(&st)
	r, st := lookupRuntime(h, "stark_buffer_retain")
	if st != sOK {
		return st
	}
	b, st := lookupBuffer(r, buf, "stark_buffer_retain")
	if st != sOK {
		return st
	}
	if err := b.b.Retain(); err != nil {
		return fromErr(err)
	}
	b.refs.Add(1)
	return sOK
}

//export stark_buffer_release
func stark_buffer_release(h C.stark_runtime, buf C.stark_buffer) (st C.stark_status) {
	defer guard(&st)
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "stark_buffer_release: runtime handle %#x is not valid", uint64(h))
	}
	b, st := lookupBuffer(r, buf, "stark_buffer_release")
	if st != sOK {
		return st
	}
	// The handle's last reference takes the handle with it, before the
	// buffer is released: a racing second release finds the handle stale.
	if !b.drop(uint64(buf)) {
		return fail(sNotFound, "stark_buffer_release: buffer %#x was already released", uint64(buf))
	}
	return fromErr(b.b.Release())
}

// takeBuffer removes a handle whose reference moves into a message and
// returns the buffer.
func takeBuffer(r *runtimeObj, h C.stark_buffer, fn string) (*mem.Buffer, C.stark_status) {
	b, st := lookupBuffer(r, h, fn)
	if st != sOK {
		return nil, st
	}
	// One of the handle's references moves; the handle stays while it
	// holds others (the caller retained it).
	if !b.drop(uint64(h)) {
		return nil, fail(sNotFound, "%s: buffer %#x was released meanwhile", fn, uint64(h))
	}
	return b.b, sOK
}

// releaseOwnedBy drops every handle of a freed runtime.
func releaseOwnedBy(r *runtimeObj) {
	var bh []uint64
	buffers.each(func(h uint64, b *bufferObj) {
		if b.rt == r {
			bh = append(bh, h)
		}
	})
	for _, h := range bh {
		if b := buffers.remove(h); b != nil {
			for b.b.Refs() > 0 {
				if b.b.Release() != nil {
					break
				}
			}
		}
	}
	releaseTimersOf(r)
	releaseModulesOf(r)
	releasePollersOf(r)
}
