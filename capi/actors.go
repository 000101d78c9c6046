package main

/*
#include <stdlib.h>
#include <string.h>
#include "stark.h"
#include "outbox.h"
typedef const void *stark__cvoid;
typedef const char *stark__cchar;
typedef const stark_actor_def *stark__cdef;
typedef const stark_spawn_opts *stark__copts;

static const char stark__empty[1];
static inline stark_status stark__call_handler(stark_handler_fn fn, stark_ctx ctx, stark_msg *m,
                                               const void *data, void *ud) {
    m->data = data != NULL ? data : (const void *)stark__empty;
    return fn(ctx, m, ud);
}
// The hot path: every pointer is C memory (the payload was copied into the
// message's inline area), passed as integers so cgo has no Go pointer to
// check on each call.
static inline stark_status stark__call_handler_c(uintptr_t fn, stark_ctx ctx, uintptr_t m, uintptr_t ud,
                                                 uintptr_t outbox) {
    stark_msg *msg = (stark_msg *)m;
    stark__outbox *prev_o;
    stark_ctx prev_ctx;
    if (msg->len == 0) msg->data = stark__empty;
    stark__outbox_begin((stark__outbox *)outbox, ctx, &prev_o, &prev_ctx);
    stark_status st = ((stark_handler_fn)fn)(ctx, msg, (void *)ud);
    stark__outbox_end(prev_o, prev_ctx);
    return st;
}
static inline stark_status stark__call_handler_big(stark_handler_fn fn, stark_ctx ctx, stark_msg *m,
                                                   const void *data, void *ud, uintptr_t outbox) {
    stark__outbox *prev_o;
    stark_ctx prev_ctx;
    m->data = data;
    stark__outbox_begin((stark__outbox *)outbox, ctx, &prev_o, &prev_ctx);
    stark_status st = fn(ctx, m, ud);
    stark__outbox_end(prev_o, prev_ctx);
    return st;
}
static inline stark_status stark__call_hook(stark_hook_fn fn, stark_ctx ctx, void *ud) {
    return fn(ctx, ud);
}
static inline void stark__call_free(stark_free_fn fn, void *ud) { fn(ud); }
*/
import "C"

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/device"
)

// native is one native actor definition as the runtime holds it: the C
// callbacks and user data, and the state of the callback in progress. A
// top-level native belongs to one actor; a supervisor child's native is
// shared by the successive actors made from the spec (never at once).
type native struct {
	rt  *runtimeObj
	def C.stark_actor_def
	msg *C.stark_msg // C memory, reused for every callback
	h   uint64

	// turn and ctx belong to the thread running the native's callbacks: a
	// ctx handle is only legal on that thread during its callback, so plain
	// fields suffice (an atomic read-modify-write per callback is a tenth of
	// a native hop). turn moves on at every callback: a ctx is valid for
	// one turn only; ctx is the callback in progress, or nil.
	turn   uint32
	ctx    *actor.Context
	reason string // stark_ctx_fail
	freed  atomic.Bool
}

var natives table[native]

// inlinePayload is the largest payload copied into a native's message
// struct (C memory) instead of being passed as a Go pointer.
const inlinePayload = 256

// newNative copies def; the caller checked it.
func newNative(r *runtimeObj, def *C.stark_actor_def) (*native, C.stark_status) {
	n := &native{rt: r}
	size := uintptr(def.struct_size)
	C.memcpy(unsafe.Pointer(&n.def), unsafe.Pointer(def), C.size_t(min(size, unsafe.Sizeof(n.def))))
	n.def.struct_size = C.uint32_t(unsafe.Sizeof(n.def))
	// The message struct, room for a small payload after it, then the
	// outbox of stark_ctx_post: C memory reused for every callback.
	n.msg = (*C.stark_msg)(C.calloc(1, C.sizeof_stark_msg+inlinePayload+C.sizeof_stark__outbox))
	if n.msg == nil {
		return nil, fail(sExhausted, "stark: out of memory")
	}
	n.msg.struct_size = C.sizeof_stark_msg
	n.turn = rand.Uint32()
	n.h = natives.add(n)
	if n.h == 0 {
		C.free(unsafe.Pointer(n.msg))
		return nil, fail(sExhausted, "stark: too many native actors")
	}
	return n, sOK
}

// disown forgets the user's destructor: a call that returns STARK_INVALID
// takes nothing, so release must not free the user data.
func (n *native) disown() { n.def.free_user_data = nil }

// freeRefused frees the user data of a def that a call refused with a
// status other than STARK_INVALID (the runtime owns it then), keeping the
// call's error message.
func freeRefused(d *C.stark_actor_def, st C.stark_status) C.stark_status {
	if d == nil || d.free_user_data == nil || st == sInvalid || st == sOK {
		return st
	}
	msg := C.GoString(C.stark_last_error())
	C.stark__call_free(d.free_user_data, d.user_data)
	setError(msg)
	return st
}

// release runs the user's destructor once and frees what the native holds.
func (n *native) release() {
	if n.freed.Swap(true) {
		return
	}
	natives.remove(n.h)
	if n.def.free_user_data != nil {
		C.stark__call_free(n.def.free_user_data, n.def.user_data)
	}
	C.free(unsafe.Pointer(n.msg))
	n.msg = nil
}

func checkDef(fn string, def C.stark__cdef) (*C.stark_actor_def, C.stark_status) {
	if def == nil {
		return nil, fail(sInvalid, "%s: def is NULL", fn)
	}
	d := (*C.stark_actor_def)(unsafe.Pointer(def))
	if uintptr(d.struct_size) < unsafe.Offsetof(d.on_start) {
		return nil, fail(sInvalid, "%s: def->struct_size %d is too small (set it to sizeof(stark_actor_def))", fn, d.struct_size)
	}
	if d.handle == nil {
		return nil, fail(sInvalid, "%s: def->handle is NULL", fn)
	}
	return d, sOK
}

// spawnOptions turns stark_spawn_opts into actor options.
func spawnOptions(fn string, o C.stark__copts) ([]actor.Option, C.stark_status) {
	if o == nil {
		return nil, sOK
	}
	p := (*C.stark_spawn_opts)(unsafe.Pointer(o))
	size := p.struct_size
	if uintptr(size) < unsafe.Offsetof(p.overflow) {
		return nil, fail(sInvalid, "%s: opts->struct_size %d is too small", fn, size)
	}
	var opts []actor.Option
	if p.mailbox_capacity > 0 {
		opts = append(opts, actor.WithMailbox(int(min(p.mailbox_capacity, 1<<30))))
	}
	if p.name != nil {
		name := C.GoString(p.name)
		if name == "" {
			return nil, fail(sInvalid, "%s: opts->name is empty", fn)
		}
		opts = append(opts, actor.WithName(name))
	}
	if has(size, unsafe.Offsetof(p.overflow), 4) {
		var wait time.Duration
		if has(size, unsafe.Offsetof(p.overflow_wait_ns), 8) {
			wait = dur(p.overflow_wait_ns)
		}
		switch p.overflow {
		case C.STARK_OVERFLOW_FAIL:
		case C.STARK_OVERFLOW_WAIT:
			opts = append(opts, actor.WithOverflow(actor.OverflowWait, wait))
		case C.STARK_OVERFLOW_DROP:
			opts = append(opts, actor.WithOverflow(actor.OverflowDrop, 0))
		default:
			return nil, fail(sInvalid, "%s: opts->overflow %d is not a STARK_OVERFLOW_* value", fn, p.overflow)
		}
	}
	if has(size, unsafe.Offsetof(p.shutdown_timeout_ns), 8) && p.shutdown_timeout_ns > 0 {
		opts = append(opts, actor.WithShutdownTimeout(dur(p.shutdown_timeout_ns)))
	}
	return opts, sOK
}

// nativeActor is one incarnation of a native actor.
type nativeActor struct{ n *native }

func (n *native) producer() actor.Producer {
	return func() actor.Actor { return &nativeActor{n: n} }
}

// begin opens a callback turn and returns its ctx handle.
func (n *native) begin(ctx *actor.Context) C.stark_ctx {
	n.ctx = ctx
	n.reason = ""
	n.turn++
	return C.stark_ctx(uint64(n.turn)<<32 | uint64(uint32(n.h))) // its slot: the low half of the handle
}

// end closes it: the ctx handle given out is stale from now on.
func (n *native) end() {
	n.ctx = nil // the ctx handed out is refused from now on; the next begin moves the turn on
}

// outbox returns the native's stark_ctx_post outbox (C memory).
func (n *native) outbox() unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(n.msg), C.sizeof_stark_msg+inlinePayload)
}

// deliverPosted sends, in order, what the handler posted with
// stark_ctx_post (read straight from C memory: no call into C).
func (n *native) deliverPosted(ctx *actor.Context) {
	o := (*C.stark__outbox)(n.outbox())
	count := int(o.count)
	if count == 0 {
		return
	}
	base := unsafe.Pointer(&o.data[0])
	off := uintptr(0)
	for i := 0; i < count; i++ {
		p := (*C.stark__post)(unsafe.Add(base, off))
		ln := uintptr(p.len)
		var data []byte
		if ln > 0 {
			data = C.GoBytes(unsafe.Add(unsafe.Pointer(p), C.sizeof_stark__post), C.int(ln))
		}
		_ = ctx.SendBytes(actor.Ref(p.to), uint32(p.tag), data) // a refusal is a dead letter
		off += (C.sizeof_stark__post + ln + 7) &^ 7
	}
	o.count, o.used = 0, 0
}

func (n *native) failure(st C.stark_status) error {
	return &nativeError{status: st, reason: n.reason}
}

func (a *nativeActor) Started(ctx *actor.Context) error {
	n := a.n
	if n.def.on_start == nil {
		return nil
	}
	h := n.begin(ctx)
	st := C.stark__call_hook(n.def.on_start, h, n.def.user_data)
	n.end()
	if st != sOK {
		return n.failure(st)
	}
	return nil
}

func (a *nativeActor) Stopped(ctx *actor.Context) {
	n := a.n
	if n.def.on_stop == nil || n.freed.Load() {
		return
	}
	h := n.begin(ctx)
	C.stark__call_hook(n.def.on_stop, h, n.def.user_data)
	n.end()
}

func (a *nativeActor) Receive(ctx *actor.Context, m *actor.Envelope) error {
	n := a.n
	var data []byte
	switch v := m.Value.(type) {
	case nil:
		data = m.Bytes()
	case []byte:
		data = v
	case actor.Terminated:
		data = nil // a watch notification: the tag says what it is
	case *device.Buffer:
		data = nil // a device buffer by reference: msg->device_buffer
	default:
		return fmt.Errorf("%w: a native actor got a Go value of type %T (tag %#x); send bytes", actor.ErrInvalid, v, m.Tag)
	}
	cm := n.msg
	cm.tag, cm.sender, cm.corr_id = C.uint32_t(m.Tag), C.stark_ref(m.Sender), C.uint64_t(m.CorrID)
	cm.len, cm.buffer, cm.is_ask, cm.device_buffer = C.size_t(len(data)), 0, 0, 0
	var dh uint64
	if db, ok := m.Value.(*device.Buffer); ok {
		dh = dbufs.add(&dbufObj{rt: n.rt, b: db})
		cm.device_buffer = C.uint64_t(dh)
	}
	if m.IsAsk() {
		cm.is_ask = 1
	}
	var bh uint64
	if m.Buf != nil {
		bh = buffers.add(newBufferObj(n.rt, m.Buf))
		cm.buffer = C.stark_buffer(bh)
	}
	// A pooled buffer's payload is never copied: msg->data points into
	// the buffer (C memory from the pool's allocator), even when empty.
	var bufData unsafe.Pointer
	if m.Buf != nil {
		if bs := m.Buf.Bytes(); cap(bs) > 0 {
			bufData = unsafe.Pointer(unsafe.SliceData(bs[:cap(bs)]))
		}
	}
	var st C.stark_status
	h := n.begin(ctx)
	switch {
	case bufData != nil:
		st = C.stark__call_handler_big(n.def.handle, h, cm, bufData, n.def.user_data, C.uintptr_t(uintptr(n.outbox())))
	case len(data) <= inlinePayload:
		// Small payloads are copied next to the message: no Go pointer
		// crosses, and cgo checks nothing.
		inline := unsafe.Add(unsafe.Pointer(cm), C.sizeof_stark_msg)
		copy(unsafe.Slice((*byte)(inline), len(data)), data)
		cm.data = inline
		st = C.stark__call_handler_c(C.uintptr_t(uintptr(unsafe.Pointer(n.def.handle))), h,
			C.uintptr_t(uintptr(unsafe.Pointer(cm))), C.uintptr_t(uintptr(n.def.user_data)), C.uintptr_t(uintptr(n.outbox())))
	default:
		st = C.stark__call_handler_big(n.def.handle, h, cm, unsafe.Pointer(&data[0]), n.def.user_data, C.uintptr_t(uintptr(n.outbox())))
	}
	n.deliverPosted(ctx)
	n.end()
	if bh != 0 && m.Buf != nil {
		// Not taken: the runtime releases the message's reference after the
		// handler; the handle goes unless the handler retained it.
		if o := buffers.get(bh); o != nil {
			o.drop(bh)
		}
	}
	if dh != 0 && m.Value != nil {
		dbufs.remove(dh) // not taken: the runtime releases it after the handler
	}
	if st != sOK {
		return n.failure(st)
	}
	return nil
}

// ctxNative resolves a ctx handle to its native and the actor context of
// the callback it was given to, which must still be running.
func ctxNative(c C.stark_ctx, fn string) (*native, *actor.Context, C.stark_status) {
	n := natives.at(uint32(c))
	if n != nil && n.turn == uint32(uint64(c)>>32) {
		if ctx := n.ctx; ctx != nil {
			return n, ctx, sOK
		}
	}
	return nil, nil, fail(sInvalid, "%s: ctx %#x is not the ctx of a running callback (it is valid only during the callback it was given to)", fn, uint64(c))
}

// spawnNative spawns def under parent (the runtime or a ctx).
func spawnNative(fn string, r *runtimeObj, spawn func(actor.Producer, ...actor.Option) (actor.Ref, error),
	def C.stark__cdef, opts C.stark__copts, out *C.stark_ref) C.stark_status {
	if out == nil {
		return fail(sInvalid, "%s: out is NULL", fn)
	}
	*out = 0
	d, st := checkDef(fn, def)
	if st != sOK {
		return st
	}
	aopts, st := spawnOptions(fn, opts)
	if st != sOK {
		return st
	}
	n, st := newNative(r, d)
	if st != sOK {
		return st
	}
	ref, err := spawn(n.producer(), aopts...)
	if err != nil {
		if statusOf(err) == sInvalid {
			n.disown() // STARK_INVALID (a taken name): the caller keeps its user data
		}
		n.release() // never ran: its user data is freed now
		return fromErr(err)
	}
	r.track(ref, n)
	*out = C.stark_ref(ref)
	return sOK
}

// track records n as owned by the actor ref: the reaper frees it when ref
// terminates.
func (r *runtimeObj) track(ref actor.Ref, ns ...*native) {
	r.mu.Lock()
	r.natives[ref] = append(r.natives[ref], ns...)
	r.mu.Unlock()
	if err := r.rt.Watch(r.reaper, ref); err != nil {
		r.untrack(ref) // already gone
	}
}

func (r *runtimeObj) untrack(ref actor.Ref) {
	r.mu.Lock()
	ns := r.natives[ref]
	delete(r.natives, ref)
	r.mu.Unlock()
	for _, n := range ns {
		n.release()
	}
}

// reap is the reaper actor: it frees the user data of native actors (and
// of supervisors' native child specs) once they have terminated, and tells
// pollers that their actors are gone.
func (r *runtimeObj) reap(_ *actor.Context, m *actor.Envelope) error {
	if t, ok := m.Value.(actor.Terminated); ok {
		r.untrack(t.Actor)
		r.mu.Lock()
		p := r.polled[t.Actor]
		delete(r.polled, t.Actor)
		r.mu.Unlock()
		if p != nil {
			p.actorGone(t.Actor)
		}
	}
	return nil
}

// watchPolled makes the reaper report ref's termination to its poller.
func (r *runtimeObj) watchPolled(ref actor.Ref, p *pollerObj) {
	r.mu.Lock()
	r.polled[ref] = p
	r.mu.Unlock()
	if err := r.rt.Watch(r.reaper, ref); err != nil {
		r.mu.Lock()
		delete(r.polled, ref)
		r.mu.Unlock()
		p.actorGone(ref)
	}
}

// freeNatives releases every native left after the runtime stopped.
func (r *runtimeObj) freeNatives() {
	r.mu.Lock()
	left := r.natives
	r.natives = map[actor.Ref][]*native{}
	r.mu.Unlock()
	for _, ns := range left {
		for _, n := range ns {
			n.release()
		}
	}
}

//export stark_spawn
func stark_spawn(h C.stark_runtime, def C.stark__cdef, opts C.stark__copts, out *C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_spawn"
	if out == nil {
		return fail(sInvalid, "%s: out is NULL", fn)
	}
	*out = 0
	// Arguments first: after STARK_INVALID nothing was taken; after any
	// other refusal (a stale or stopped runtime) the user data was.
	d, st := checkDef(fn, def)
	if st != sOK {
		return st
	}
	if _, st := spawnOptions(fn, opts); st != sOK {
		return st
	}
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return freeRefused(d, st)
	}
	return spawnNative(fn, r, r.rt.Spawn, def, opts, out)
}

//export stark_ctx_spawn
func stark_ctx_spawn(c C.stark_ctx, def C.stark__cdef, opts C.stark__copts, out *C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	n, ctx, st := ctxNative(c, "stark_ctx_spawn")
	if st != sOK {
		return st
	}
	return spawnNative("stark_ctx_spawn", n.rt, ctx.Spawn, def, opts, out)
}

//export stark_stop
func stark_stop(h C.stark_runtime, ref C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	r, st := lookupRuntime(h, "stark_stop")
	if st != sOK {
		return st
	}
	return fromErr(r.rt.Stop(actor.Ref(ref)))
}

//export stark_kill
func stark_kill(h C.stark_runtime, ref C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	r, st := lookupRuntime(h, "stark_kill")
	if st != sOK {
		return st
	}
	return fromErr(r.rt.Kill(actor.Ref(ref)))
}

//export stark_alive
func stark_alive(h C.stark_runtime, ref C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	r, st := lookupRuntime(h, "stark_alive")
	if st != sOK {
		return st
	}
	if !r.rt.Alive(actor.Ref(ref)) {
		return fail(sNotFound, "stark_alive: %v is not alive", actor.Ref(ref))
	}
	return sOK
}

//export stark_ctx_self
func stark_ctx_self(c C.stark_ctx, out *C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	_, ctx, st := ctxNative(c, "stark_ctx_self")
	if st != sOK {
		return st
	}
	if out == nil {
		return fail(sInvalid, "stark_ctx_self: out is NULL")
	}
	*out = C.stark_ref(ctx.Self())
	return sOK
}

//export stark_ctx_runtime
func stark_ctx_runtime(c C.stark_ctx, out *C.stark_runtime) (st C.stark_status) {
	defer guard(&st)
	n, _, st := ctxNative(c, "stark_ctx_runtime")
	if st != sOK {
		return st
	}
	if out == nil {
		return fail(sInvalid, "stark_ctx_runtime: out is NULL")
	}
	*out = C.stark_runtime(n.rt.h)
	return sOK
}

//export stark_ctx_fail
func stark_ctx_fail(c C.stark_ctx, reason C.stark__cchar) (st C.stark_status) {
	defer guard(&st)
	n, _, st := ctxNative(c, "stark_ctx_fail")
	if st != sOK {
		return st
	}
	if reason == nil {
		return fail(sInvalid, "stark_ctx_fail: reason is NULL")
	}
	n.reason = C.GoStringN((*C.char)(unsafe.Pointer(reason)), C.int(C.strnlen((*C.char)(unsafe.Pointer(reason)), 4096)))
	return sOK
}
