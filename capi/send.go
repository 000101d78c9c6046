package main

/*
#include <stdlib.h>
#include <string.h>
#include "stark.h"
typedef const void *stark__cvoid;
typedef const char *stark__cchar;
*/
import "C"

import (
	"context"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/stark-rt/stark/host/actor"
)

// maxPayload bounds a copied payload (a pooled buffer has the pool's limit).
const maxPayload = 1 << 31

// payload copies len bytes at data into Go memory (nil for an empty one).
func payload(fn string, data C.stark__cvoid, n C.size_t) ([]byte, C.stark_status) {
	if n == 0 {
		return nil, sOK
	}
	if data == nil {
		return nil, fail(sInvalid, "%s: data is NULL but len is %d", fn, uint64(n))
	}
	if uint64(n) > maxPayload {
		return nil, fail(sTooLarge, "%s: %d bytes is over the %d-byte limit of a copied payload (send a pooled buffer)", fn, uint64(n), maxPayload)
	}
	return C.GoBytes(unsafe.Pointer(data), C.int(n)), sOK
}

func cstring(fn, what string, s C.stark__cchar) (string, C.stark_status) {
	if s == nil {
		return "", fail(sInvalid, "%s: %s is NULL", fn, what)
	}
	p := (*C.char)(unsafe.Pointer(s))
	n := C.strnlen(p, 4097)
	if n == 0 || n > 4096 {
		return "", fail(sInvalid, "%s: %s must be 1 to 4096 bytes", fn, what)
	}
	return C.GoStringN(p, C.int(n)), sOK
}

func send(fn string, h C.stark_runtime, from, to C.stark_ref, tag C.uint32_t, data C.stark__cvoid, n C.size_t, try bool) C.stark_status {
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	b, st := payload(fn, data, n)
	if st != sOK {
		return st
	}
	env := actor.Envelope{Target: actor.Ref(to), Sender: actor.Ref(from), Tag: uint32(tag), Data: b}
	if try {
		return fromErr(r.rt.TrySendEnvelope(env))
	}
	return fromErr(r.rt.SendEnvelope(env))
}

//export stark_send
func stark_send(h C.stark_runtime, to C.stark_ref, tag C.uint32_t, data C.stark__cvoid, n C.size_t) (st C.stark_status) {
	defer guard(&st)
	return send("stark_send", h, 0, to, tag, data, n, false)
}

//export stark_try_send
func stark_try_send(h C.stark_runtime, to C.stark_ref, tag C.uint32_t, data C.stark__cvoid, n C.size_t) (st C.stark_status) {
	defer guard(&st)
	return send("stark_try_send", h, 0, to, tag, data, n, true)
}

//export stark_send_from
func stark_send_from(h C.stark_runtime, from, to C.stark_ref, tag C.uint32_t, data C.stark__cvoid, n C.size_t) (st C.stark_status) {
	defer guard(&st)
	return send("stark_send_from", h, from, to, tag, data, n, false)
}

// corrIDs numbers requests made through stark_request.
var corrIDs atomic.Uint64

//export stark_request
func stark_request(h C.stark_runtime, from, to C.stark_ref, tag C.uint32_t, data C.stark__cvoid, n C.size_t, corr *C.uint64_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_request"
	if corr == nil {
		return fail(sInvalid, "%s: corr_id is NULL", fn)
	}
	*corr = 0
	if from == 0 {
		return fail(sInvalid, "%s: from is 0: the reply needs an actor to come back to", fn)
	}
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	b, st := payload(fn, data, n)
	if st != sOK {
		return st
	}
	id := corrIDs.Add(1) | 1<<63 // apart from the ids the runtime gives (Context.Request)
	err := r.rt.SendEnvelope(actor.Envelope{Target: actor.Ref(to), Sender: actor.Ref(from), CorrID: id, Tag: uint32(tag), Data: b})
	if err != nil {
		return fromErr(err)
	}
	*corr = C.uint64_t(id)
	return sOK
}

//export stark_send_buffer
func stark_send_buffer(h C.stark_runtime, to C.stark_ref, tag C.uint32_t, buf C.stark_buffer) (st C.stark_status) {
	defer guard(&st)
	r, st := lookupRuntime(h, "stark_send_buffer")
	if st != sOK {
		// The reference moves whatever the result: a shut-down runtime
		// releases it (a freed one already did).
		if r := runtimes.get(uint64(h)); r != nil {
			if b := buffers.get(uint64(buf)); b != nil && b.rt == r && b.drop(uint64(buf)) {
				_ = b.b.Release()
			}
		}
		return st
	}
	b, st := takeBuffer(r, buf, "stark_send_buffer")
	if st != sOK {
		return st
	}
	// Send takes the reference whatever happens (a refused message is
	// dead-lettered, which releases it).
	return fromErr(r.rt.Send(actor.Ref(to), uint32(tag), b))
}

//export stark_ask
func stark_ask(h C.stark_runtime, to C.stark_ref, tag C.uint32_t, data C.stark__cvoid, n C.size_t, timeout C.uint64_t, out *C.stark_reply) (st C.stark_status) {
	defer guard(&st)
	if out == nil || uintptr(out.struct_size) < unsafe.Sizeof(*out) {
		return fail(sInvalid, "stark_ask: out is NULL or its struct_size is not sizeof(stark_reply)")
	}
	out.tag, out.sender, out.data, out.len, out.buffer = 0, 0, nil, 0, 0
	r, st := lookupRuntime(h, "stark_ask")
	if st != sOK {
		return st
	}
	b, st := payload("stark_ask", data, n)
	if st != sOK {
		return st
	}
	ctx, cancel := timeoutContext(timeout)
	defer cancel()
	env, err := r.rt.Ask(ctx, actor.Ref(to), uint32(tag), b)
	if err != nil {
		return fromErr(err)
	}
	return fillReply("stark_ask", r, &env, out)
}

// timeoutContext bounds a blocking call by timeout nanoseconds (0: no
// bound of its own; the runtime's ask timeout applies).
func timeoutContext(timeout C.uint64_t) (context.Context, context.CancelFunc) {
	if timeout == 0 {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), dur(timeout))
}

// fillReply hands a reply envelope to C: a pooled buffer by handle (zero
// copy), bytes as a malloc'ed copy.
func fillReply(fn string, r *runtimeObj, env *actor.Envelope, out *C.stark_reply) C.stark_status {
	out.tag, out.sender = C.uint32_t(env.Tag), C.stark_ref(env.Sender)
	if b := env.TakeBuffer(); b != nil {
		hb := buffers.add(newBufferObj(r, b))
		if hb == 0 {
			_ = b.Release()
			return fail(sExhausted, "%s: too many buffer handles", fn)
		}
		bs := b.Bytes()
		out.buffer, out.len = C.stark_buffer(hb), C.size_t(len(bs))
		out.data = unsafe.Pointer(unsafe.SliceData(bs[:cap(bs)]))
		return sOK
	}
	var bs []byte
	switch v := env.Value.(type) {
	case nil:
		bs = env.Data
	case []byte:
		bs = v
	case string:
		bs = []byte(v)
	default:
		return fail(sInvalid, "%s: the reply carries a Go value of type %T, not bytes", fn, v)
	}
	p := C.malloc(C.size_t(max(len(bs), 1)))
	if p == nil {
		return fail(sExhausted, "%s: out of memory for a %d-byte reply", fn, len(bs))
	}
	copy(unsafe.Slice((*byte)(p), len(bs)), bs)
	out.data, out.len = p, C.size_t(len(bs))
	return sOK
}

//export stark_reply_free
func stark_reply_free(reply *C.stark_reply) (st C.stark_status) {
	defer guard(&st)
	if reply == nil {
		return sOK
	}
	if reply.buffer != 0 {
		if b := buffers.get(uint64(reply.buffer)); b != nil && b.drop(uint64(reply.buffer)) {
			_ = b.b.Release()
		}
	} else if reply.data != nil {
		C.free(reply.data)
	}
	reply.data, reply.len, reply.buffer, reply.tag, reply.sender = nil, 0, 0, 0, 0
	return sOK
}

//export stark_ctx_send
func stark_ctx_send(c C.stark_ctx, to C.stark_ref, tag C.uint32_t, data C.stark__cvoid, n C.size_t) (st C.stark_status) {
	defer guard(&st)
	_, ctx, st := ctxNative(c, "stark_ctx_send")
	if st != sOK {
		return st
	}
	b, st := payload("stark_ctx_send", data, n)
	if st != sOK {
		return st
	}
	return fromErr(ctx.SendBytes(actor.Ref(to), uint32(tag), b))
}

//export stark_ctx_send_buffer
func stark_ctx_send_buffer(c C.stark_ctx, to C.stark_ref, tag C.uint32_t, buf C.stark_buffer) (st C.stark_status) {
	defer guard(&st)
	n, ctx, st := ctxNative(c, "stark_ctx_send_buffer")
	if st != sOK {
		return st
	}
	b, st := takeBuffer(n.rt, buf, "stark_ctx_send_buffer")
	if st != sOK {
		return st
	}
	return fromErr(ctx.Send(actor.Ref(to), uint32(tag), b))
}

//export stark_ctx_reply
func stark_ctx_reply(c C.stark_ctx, tag C.uint32_t, data C.stark__cvoid, n C.size_t) (st C.stark_status) {
	defer guard(&st)
	_, ctx, st := ctxNative(c, "stark_ctx_reply")
	if st != sOK {
		return st
	}
	if ctx.Message() == nil {
		return fail(sNotFound, "stark_ctx_reply: no message in hand (a lifecycle hook)")
	}
	b, st := payload("stark_ctx_reply", data, n)
	if st != sOK {
		return st
	}
	return fromErr(ctx.ReplyBytes(uint32(tag), b))
}

//export stark_ctx_reply_buffer
func stark_ctx_reply_buffer(c C.stark_ctx, tag C.uint32_t, buf C.stark_buffer) (st C.stark_status) {
	defer guard(&st)
	n, ctx, st := ctxNative(c, "stark_ctx_reply_buffer")
	if st != sOK {
		return st
	}
	if ctx.Message() == nil {
		return fail(sNotFound, "stark_ctx_reply_buffer: no message in hand (a lifecycle hook)")
	}
	b, st := takeBuffer(n.rt, buf, "stark_ctx_reply_buffer")
	if st != sOK {
		return st
	}
	return fromErr(ctx.Reply(uint32(tag), b))
}

//export stark_ctx_take_buffer
func stark_ctx_take_buffer(c C.stark_ctx, out *C.stark_buffer) (st C.stark_status) {
	defer guard(&st)
	n, ctx, st := ctxNative(c, "stark_ctx_take_buffer")
	if st != sOK {
		return st
	}
	if out == nil {
		return fail(sInvalid, "stark_ctx_take_buffer: out is NULL")
	}
	m := ctx.Message()
	if m == nil || m.Buf == nil {
		return fail(sNotFound, "stark_ctx_take_buffer: the message in hand carries no pooled buffer")
	}
	h := n.msg.buffer // the handle Receive made for this message
	m.TakeBuffer()    // the runtime will not release it now
	*out = h
	return sOK
}

// named resolves a runtime handle and a name argument (a registered name
// or a topic) of the export fn.
func named(h C.stark_runtime, fn, what string, name C.stark__cchar) (*runtimeObj, string, C.stark_status) {
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return nil, "", st
	}
	s, st := cstring(fn, what, name)
	return r, s, st
}

//export stark_register
func stark_register(h C.stark_runtime, name C.stark__cchar, ref C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	r, s, st := named(h, "stark_register", "name", name)
	if st != sOK {
		return st
	}
	return fromErr(r.rt.Register(s, actor.Ref(ref)))
}

//export stark_unregister
func stark_unregister(h C.stark_runtime, name C.stark__cchar) (st C.stark_status) {
	defer guard(&st)
	r, s, st := named(h, "stark_unregister", "name", name)
	if st != sOK {
		return st
	}
	if _, err := r.rt.Lookup(s); err != nil {
		return fromErr(err)
	}
	r.rt.Unregister(s)
	return sOK
}

//export stark_lookup
func stark_lookup(h C.stark_runtime, name C.stark__cchar, out *C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	if out == nil {
		return fail(sInvalid, "stark_lookup: out is NULL")
	}
	*out = 0
	r, s, st := named(h, "stark_lookup", "name", name)
	if st != sOK {
		return st
	}
	ref, err := r.rt.Lookup(s)
	if err != nil {
		return fromErr(err)
	}
	*out = C.stark_ref(ref)
	return sOK
}

//export stark_subscribe
func stark_subscribe(h C.stark_runtime, topic C.stark__cchar, ref C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	r, s, st := named(h, "stark_subscribe", "topic", topic)
	if st != sOK {
		return st
	}
	return fromErr(r.rt.Subscribe(s, actor.Ref(ref)))
}

//export stark_unsubscribe
func stark_unsubscribe(h C.stark_runtime, topic C.stark__cchar, ref C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	r, s, st := named(h, "stark_unsubscribe", "topic", topic)
	if st != sOK {
		return st
	}
	r.rt.Unsubscribe(s, actor.Ref(ref))
	return sOK
}

//export stark_publish
func stark_publish(h C.stark_runtime, topic C.stark__cchar, tag C.uint32_t, data C.stark__cvoid, n C.size_t, delivered *C.uint32_t) (st C.stark_status) {
	defer guard(&st)
	if delivered != nil {
		*delivered = 0
	}
	r, s, st := named(h, "stark_publish", "topic", topic)
	if st != sOK {
		return st
	}
	b, st := payload("stark_publish", data, n)
	if st != sOK {
		return st
	}
	k, err := r.rt.Publish(s, uint32(tag), b)
	if err != nil {
		return fromErr(err)
	}
	if delivered != nil {
		*delivered = C.uint32_t(k)
	}
	return sOK
}

// timerObj is what a stark_timer handle names.
type timerObj struct {
	rt *runtimeObj
	t  *actor.Timer
}

var timers table[timerObj]

func addTimer(fn string, r *runtimeObj, t *actor.Timer, out *C.stark_timer) C.stark_status {
	if out == nil {
		return sOK
	}
	h := timers.add(&timerObj{rt: r, t: t})
	if h == 0 {
		t.Cancel()
		return fail(sExhausted, "%s: too many timer handles", fn)
	}
	*out = C.stark_timer(h)
	return sOK
}

//export stark_send_after
func stark_send_after(h C.stark_runtime, delay C.uint64_t, to C.stark_ref, tag C.uint32_t, data C.stark__cvoid, n C.size_t, out *C.stark_timer) (st C.stark_status) {
	defer guard(&st)
	if out != nil {
		*out = 0
	}
	r, st := lookupRuntime(h, "stark_send_after")
	if st != sOK {
		return st
	}
	b, st := payload("stark_send_after", data, n)
	if st != sOK {
		return st
	}
	if !r.rt.Alive(actor.Ref(to)) {
		return fail(sNotFound, "stark_send_after: %v is not alive", actor.Ref(to))
	}
	return addTimer("stark_send_after", r, r.rt.SendAfter(dur(delay), actor.Ref(to), uint32(tag), b), out)
}

//export stark_send_every
func stark_send_every(h C.stark_runtime, period C.uint64_t, to C.stark_ref, tag C.uint32_t, data C.stark__cvoid, n C.size_t, out *C.stark_timer) (st C.stark_status) {
	defer guard(&st)
	if out != nil {
		*out = 0
	}
	r, st := lookupRuntime(h, "stark_send_every")
	if st != sOK {
		return st
	}
	if period == 0 {
		return fail(sInvalid, "stark_send_every: period_ns is 0")
	}
	b, st := payload("stark_send_every", data, n)
	if st != sOK {
		return st
	}
	if !r.rt.Alive(actor.Ref(to)) {
		return fail(sNotFound, "stark_send_every: %v is not alive", actor.Ref(to))
	}
	t, err := r.rt.SendEvery(time.Duration(dur(period)), actor.Ref(to), uint32(tag), b)
	if err != nil {
		return fromErr(err)
	}
	return addTimer("stark_send_every", r, t, out)
}

//export stark_timer_cancel
func stark_timer_cancel(h C.stark_runtime, tm C.stark_timer) (st C.stark_status) {
	defer guard(&st)
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "stark_timer_cancel: runtime handle %#x is not valid", uint64(h))
	}
	t := timers.get(uint64(tm))
	if t == nil || t.rt != r {
		return fail(sNotFound, "stark_timer_cancel: timer %#x is not valid (cancelled already, or of another runtime)", uint64(tm))
	}
	if timers.remove(uint64(tm)) == nil {
		return fail(sNotFound, "stark_timer_cancel: timer %#x was cancelled meanwhile", uint64(tm))
	}
	if !t.t.Cancel() {
		return fail(sNotFound, "stark_timer_cancel: the timer already fired")
	}
	return sOK
}

func releaseTimersOf(r *runtimeObj) {
	var hs []uint64
	timers.each(func(h uint64, t *timerObj) {
		if t.rt == r {
			hs = append(hs, h)
		}
	})
	for _, h := range hs {
		if t := timers.remove(h); t != nil {
			t.t.Cancel()
		}
	}
}
