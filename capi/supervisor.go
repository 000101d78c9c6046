package main

/*
#include "stark.h"
typedef const stark_supervisor_spec *stark__csupspec;
typedef const stark_actor_def *stark__cdef;
*/
import "C"

import (
	"unsafe"

	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/supervise"
)

const maxChildren = 1 << 16

//export stark_supervisor_start
func stark_supervisor_start(h C.stark_runtime, spec C.stark__csupspec, out *C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_supervisor_start"
	if out == nil {
		return fail(sInvalid, "%s: out is NULL", fn)
	}
	*out = 0
	if spec == nil {
		return fail(sInvalid, "%s: spec is NULL", fn)
	}
	sp := (*C.stark_supervisor_spec)(unsafe.Pointer(spec))
	if uintptr(sp.struct_size) < unsafe.Offsetof(sp.name) {
		return fail(sInvalid, "%s: spec->struct_size %d is too small", fn, sp.struct_size)
	}
	if sp.n_children > maxChildren || (sp.n_children > 0 && sp.children == nil) {
		return fail(sInvalid, "%s: children is NULL or n_children %d is over %d", fn, uint64(sp.n_children), maxChildren)
	}
	var gs supervise.Spec
	switch sp.strategy {
	case C.STARK_ONE_FOR_ONE:
		gs.Strategy = supervise.OneForOne
	case C.STARK_ONE_FOR_ALL:
		gs.Strategy = supervise.OneForAll
	case C.STARK_REST_FOR_ONE:
		gs.Strategy = supervise.RestForOne
	default:
		return fail(sInvalid, "%s: strategy %d is not a STARK_*_FOR_* value", fn, sp.strategy)
	}
	gs.MaxRestarts = int(sp.max_restarts)
	gs.Period = dur(sp.period_ns)
	if sp.jitter < 0 || sp.jitter > 1 || sp.jitter != sp.jitter {
		return fail(sInvalid, "%s: jitter %v is outside 0..1", fn, float64(sp.jitter))
	}
	switch sp.backoff {
	case C.STARK_BACKOFF_NONE:
		gs.Backoff = supervise.NoBackoff()
	case C.STARK_BACKOFF_LINEAR:
		gs.Backoff = supervise.Linear(dur(sp.backoff_ns), dur(sp.backoff_max_ns)).WithJitter(float64(sp.jitter))
	case C.STARK_BACKOFF_EXPONENTIAL:
		gs.Backoff = supervise.Exponential(dur(sp.backoff_ns), dur(sp.backoff_max_ns), float64(sp.jitter))
	default:
		return fail(sInvalid, "%s: backoff %d is not a STARK_BACKOFF_* value", fn, sp.backoff)
	}

	// The fields past the caller's struct_size are not read.
	var supName *C.char
	if has(sp.struct_size, unsafe.Offsetof(sp.name), unsafe.Sizeof(sp.name)) {
		supName = sp.name
	}
	if supName != nil && *supName == 0 {
		return fail(sInvalid, "%s: spec->name is empty (NULL for none)", fn)
	}
	children := unsafe.Slice(sp.children, int(sp.n_children))
	for i := range children { // validate everything before taking anything
		c := &children[i]
		if c.name != nil && *c.name == 0 {
			return fail(sInvalid, "%s: children[%d].name is empty (NULL for none)", fn, i)
		}
		if uintptr(c.struct_size) < unsafe.Offsetof(c.shutdown_timeout_ns) {
			return fail(sInvalid, "%s: children[%d].struct_size %d is too small", fn, i, c.struct_size)
		}
		if c.restart > C.STARK_TEMPORARY {
			return fail(sInvalid, "%s: children[%d].restart %d is not a STARK_PERMANENT/TRANSIENT/TEMPORARY value", fn, i, c.restart)
		}
		var poller C.stark_poller
		if has(c.struct_size, unsafe.Offsetof(c.poller), 8) {
			poller = c.poller
		}
		kinds := 0
		for _, set := range []bool{c.def != nil, c.module != 0, poller != 0} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			return fail(sInvalid, "%s: children[%d] must set exactly one of def, module and poller", fn, i)
		}
		if c.def != nil {
			if _, st := checkDef(fn, C.stark__cdef(unsafe.Pointer(c.def))); st != sOK {
				return st
			}
		}
		if poller != 0 && pollers.get(uint64(poller)) == nil {
			return fail(sNotFound, "%s: children[%d].poller %#x is not valid", fn, i, uint64(poller))
		}
	}
	// The runtime after the arguments: after STARK_INVALID nothing was
	// taken; after any other refusal the children's user data was.
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		for i := range children {
			st = freeRefused((*C.stark_actor_def)(unsafe.Pointer(children[i].def)), st)
		}
		return st
	}
	var owned []*native
	for i := range children {
		c := &children[i]
		cs := supervise.ChildSpec{Restart: [...]supervise.Restart{supervise.Permanent, supervise.Transient, supervise.Temporary}[c.restart]}
		if c.name != nil {
			cs.Name = C.GoString(c.name)
		}
		if has(c.struct_size, unsafe.Offsetof(c.shutdown_timeout_ns), 8) {
			cs.Shutdown = dur(c.shutdown_timeout_ns)
		}
		if has(c.struct_size, unsafe.Offsetof(c.mailbox_capacity), 4) && c.mailbox_capacity > 0 {
			cs.Options = append(cs.Options, actor.WithMailbox(int(min(c.mailbox_capacity, 1<<30))))
		}
		switch {
		case has(c.struct_size, unsafe.Offsetof(c.poller), 8) && c.poller != 0:
			p, st := lookupPoller(r, c.poller, fn)
			if st != sOK {
				releaseAll(owned)
				return st
			}
			cs.Start = p.producer()
		case c.def != nil:
			n, st := newNative(r, (*C.stark_actor_def)(unsafe.Pointer(c.def)))
			if st != sOK {
				releaseAll(owned)
				return st
			}
			owned = append(owned, n)
			cs.Start = n.producer()
		default:
			p, opts, st := wasmProducer(fn, r, c.module, c.wasm_opts)
			if st != sOK {
				if st == sInvalid {
					disownAll(owned)
				}
				releaseAll(owned)
				return st
			}
			cs.Start, cs.Options = p, append(cs.Options, opts...)
		}
		gs.Children = append(gs.Children, cs)
	}
	var opts []actor.Option
	if supName != nil {
		opts = append(opts, actor.WithName(C.GoString(supName)))
	}
	ref, err := supervise.Start(r.rt.System, gs, opts...)
	if err != nil {
		if ref == 0 {
			if statusOf(err) == sInvalid { // a taken name: nothing was taken
				disownAll(owned)
			}
			releaseAll(owned)
		} else { // a partial tree: freed once it is gone
			r.track(ref, owned...)
			_ = r.rt.Kill(ref)
		}
		return fromErr(err)
	}
	r.track(ref, owned...)
	*out = C.stark_ref(ref)
	return sOK
}

func disownAll(ns []*native) {
	for _, n := range ns {
		n.disown()
	}
}

func releaseAll(ns []*native) {
	for _, n := range ns {
		n.release()
	}
}
