package main

/*
#include "stark.h"
*/
import "C"

import (
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
}

var buffers table[bufferObj]

func lookupBuffer(r *runtimeObj, h C.stark_buffer, fn string) (*bufferObj, C.stark_status) {
	b := buffers.get(uint64(h))
	if b == nil || b.rt != r || b.b.Refs() == 0 {
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
	hb := buffers.add(&bufferObj{rt: r, b: b})
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
	return fromErr(b.b.Retain())
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
	if b.b.Refs() == 1 {
		// The last reference: the handle goes with it. remove first so a
		// racing second release finds the handle stale, not a freed buffer.
		if buffers.remove(uint64(buf)) == nil {
			return fail(sNotFound, "stark_buffer_release: buffer %#x was already released", uint64(buf))
		}
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
	if b.b.Refs() > 1 {
		// Other holders share this handle: move one reference, keep the handle.
		return b.b, sOK
	}
	if buffers.remove(uint64(h)) == nil {
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
