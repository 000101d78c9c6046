package main

/*
#include <stdlib.h>
#include "stark.h"
typedef const void *stark__cvoid;
typedef const char *stark__cchar;
typedef const stark_config *stark__cconfig;
typedef const stark_actor_def *stark__cdef;
typedef const stark_poll_result *stark__cpollresults;

// Handlers for the fuzz driver: an echo actor and one that fails.
static stark_status stark__fz_echo(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ud;
    if (m->tag == 99) return STARK_INVALID;
    if (m->is_ask) return stark_ctx_reply(ctx, m->tag, m->data, m->len);
    return STARK_OK;
}
static stark_actor_def stark__fz_def(void) {
    stark_actor_def d = {sizeof d, 0, stark__fz_echo, NULL, NULL, NULL, NULL};
    return d;
}
*/
import "C"

import (
	"encoding/binary"
	"unsafe"
)

// abiFuzzer drives random sequences of ABI calls, as a C program could
// make them: real handles mixed with stale and forged ones, NULL and valid
// pointers, lengths from zero to absurd. It reports the first call that
// returned STARK_INTERNAL (a panic inside the library) or an unknown
// status. It lives outside the _test files because those cannot use cgo;
// the linker drops it from libstark.so, which never calls it.
type abiFuzzer struct {
	in      []byte
	rts     []C.stark_runtime
	refs    []C.stark_ref
	bufs    []C.stark_buffer
	timers  []C.stark_timer
	pollers []C.stark_poller
	mem     unsafe.Pointer // 4 KiB of C memory for payloads and outputs
}

func newABIFuzzer(in []byte) *abiFuzzer {
	return &abiFuzzer{in: in, mem: C.calloc(1, 4096)}
}

func (f *abiFuzzer) close() {
	for _, rt := range f.rts {
		stark_runtime_free(rt)
	}
	C.free(f.mem)
}

func (f *abiFuzzer) byte() byte {
	if len(f.in) == 0 {
		return 0
	}
	b := f.in[0]
	f.in = f.in[1:]
	return b
}

func (f *abiFuzzer) u64() uint64 {
	var b [8]byte
	for i := range b {
		b[i] = f.byte()
	}
	return binary.LittleEndian.Uint64(b[:])
}

// pick returns one of the known handles, or a forged one.
func (f *abiFuzzer) pick(known []uint64) uint64 {
	if k := int(f.byte()); len(known) > 0 && k < 200 {
		return known[k%len(known)]
	}
	return f.u64()
}

func asU64[T ~uint64](hs []T) []uint64 {
	out := make([]uint64, len(hs))
	for i, h := range hs {
		out[i] = uint64(h)
	}
	return out
}

func (f *abiFuzzer) rt() C.stark_runtime    { return C.stark_runtime(f.pick(asU64(f.rts))) }
func (f *abiFuzzer) ref() C.stark_ref       { return C.stark_ref(f.pick(asU64(f.refs))) }
func (f *abiFuzzer) buf() C.stark_buffer    { return C.stark_buffer(f.pick(asU64(f.bufs))) }
func (f *abiFuzzer) timer() C.stark_timer   { return C.stark_timer(f.pick(asU64(f.timers))) }
func (f *abiFuzzer) poller() C.stark_poller { return C.stark_poller(f.pick(asU64(f.pollers))) }

// data returns a payload pointer and length: NULL, valid, or lying.
func (f *abiFuzzer) data() (C.stark__cvoid, C.size_t) {
	switch f.byte() % 6 {
	case 0:
		return nil, 0
	case 1:
		return nil, C.size_t(f.byte()) + 1
	case 2:
		return C.stark__cvoid(f.mem), C.size_t(1 << 40)
	default:
		return C.stark__cvoid(f.mem), C.size_t(f.byte()) * 16
	}
}

// step makes one call; it returns the status and the name of the call.
func (f *abiFuzzer) step() (C.stark_status, string) {
	if len(f.rts) == 0 {
		var rt C.stark_runtime
		cfg := (*C.stark_config)(f.mem)
		stark_config_init(cfg)
		cfg.workers, cfg.pool_limit_bytes, cfg.ask_timeout_ns = 2, 1<<20, 1e6
		st := stark_runtime_new(C.stark__cconfig(f.mem), &rt)
		if st == sOK {
			f.rts = append(f.rts, rt)
		}
		return st, "stark_runtime_new"
	}
	var out C.uint64_t
	outp := (*C.stark_ref)(unsafe.Pointer(&out))
	if f.byte()%8 == 0 {
		outp = nil
	}
	switch op := f.byte() % 22; op {
	case 0:
		def := C.stark__fz_def()
		st := stark_spawn(f.rt(), C.stark__cdef(unsafe.Pointer(&def)), nil, outp)
		if st == sOK {
			f.refs = append(f.refs, *outp)
		}
		return st, "stark_spawn"
	case 1:
		p, n := f.data()
		return stark_send(f.rt(), f.ref(), C.uint32_t(f.byte()), p, n), "stark_send"
	case 2:
		p, n := f.data()
		return stark_try_send(f.rt(), f.ref(), C.uint32_t(f.byte()), p, n), "stark_try_send"
	case 3:
		p, n := f.data()
		r := (*C.stark_reply)(unsafe.Add(f.mem, 2048))
		*r = C.stark_reply{struct_size: C.uint32_t(unsafe.Sizeof(*r))}
		st := stark_ask(f.rt(), f.ref(), C.uint32_t(f.byte()), p, n, 1e6, r)
		stark_reply_free(r)
		return st, "stark_ask"
	case 4:
		return stark_stop(f.rt(), f.ref()), "stark_stop"
	case 5:
		return stark_kill(f.rt(), f.ref()), "stark_kill"
	case 6:
		st := stark_buffer_alloc(f.rt(), C.size_t(f.u64()%(1<<22)), (*C.stark_buffer)(unsafe.Pointer(outp)))
		if st == sOK {
			f.bufs = append(f.bufs, C.stark_buffer(*outp))
		}
		return st, "stark_buffer_alloc"
	case 7:
		var p unsafe.Pointer
		var n C.size_t
		return stark_buffer_data(f.rt(), f.buf(), &p, &n), "stark_buffer_data"
	case 8:
		return stark_buffer_release(f.rt(), f.buf()), "stark_buffer_release"
	case 9:
		return stark_buffer_retain(f.rt(), f.buf()), "stark_buffer_retain"
	case 10:
		return stark_send_buffer(f.rt(), f.ref(), 1, f.buf()), "stark_send_buffer"
	case 11:
		return stark_buffer_set_len(f.rt(), f.buf(), C.size_t(f.u64()%(1<<23))), "stark_buffer_set_len"
	case 12:
		p, n := f.data()
		st := stark_send_after(f.rt(), C.uint64_t(f.byte())*1000, f.ref(), 1, p, n, (*C.stark_timer)(unsafe.Pointer(outp)))
		if st == sOK && outp != nil {
			f.timers = append(f.timers, C.stark_timer(*outp))
		}
		return st, "stark_send_after"
	case 13:
		return stark_timer_cancel(f.rt(), f.timer()), "stark_timer_cancel"
	case 14:
		st := stark_poller_new(f.rt(), C.uint32_t(f.byte()), (*C.stark_poller)(unsafe.Pointer(outp)))
		if st == sOK {
			f.pollers = append(f.pollers, C.stark_poller(*outp))
		}
		return st, "stark_poller_new"
	case 15:
		st := stark_spawn_polled(f.rt(), f.poller(), nil, outp)
		if st == sOK {
			f.refs = append(f.refs, *outp)
		}
		return st, "stark_spawn_polled"
	case 16:
		items := (*C.stark_poll_item)(f.mem)
		var n C.size_t
		st := stark_poll(f.rt(), f.poller(), items, C.size_t(f.byte()%8), C.uint64_t(f.byte())*1000, &n)
		if st == sOK && n > 0 { // give every token back, answering asks
			res := make([]C.stark_poll_result, n)
			for i, it := range unsafe.Slice(items, int(n)) {
				res[i] = C.stark_poll_result{token: it.token, reply: C.uint32_t(it.is_ask)}
			}
			stark_poll_done(f.rt(), f.poller(), C.stark__cpollresults(unsafe.Pointer(&res[0])), n)
		}
		return st, "stark_poll"
	case 17:
		return stark_poller_free(f.rt(), f.poller()), "stark_poller_free"
	case 18:
		name := (*C.char)(unsafe.Add(f.mem, 3000))
		*(*[2]byte)(unsafe.Pointer(name)) = [2]byte{'a' + f.byte()%3, 0}
		if f.byte()%2 == 0 {
			return stark_register(f.rt(), C.stark__cchar(unsafe.Pointer(name)), f.ref()), "stark_register"
		}
		return stark_lookup(f.rt(), C.stark__cchar(unsafe.Pointer(name)), outp), "stark_lookup"
	case 19:
		var m C.stark_metrics
		m.struct_size = C.uint32_t(f.byte())
		return stark_runtime_metrics(f.rt(), &m), "stark_runtime_metrics"
	case 20:
		return stark_runtime_shutdown(f.rt(), 1e8), "stark_runtime_shutdown"
	default:
		st := stark_runtime_free(f.rt())
		return st, "stark_runtime_free"
	}
}

// lastError returns the calling thread's last error (for test reports).
func lastError() string { return C.GoString(C.stark_last_error()) }
