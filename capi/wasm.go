package main

/*
#include "stark.h"
typedef const void *stark__cvoid;
typedef const char *stark__cchar;
typedef const stark_spawn_opts *stark__copts;
typedef const stark_wasm_opts *stark__cwasmopts;
*/
import "C"

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"unsafe"

	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/wasm"
)

// moduleObj is what a stark_module handle names.
type moduleObj struct {
	rt *runtimeObj
	m  *wasm.Module
}

var modules table[moduleObj]

const maxModuleBytes = 1 << 30

func addModule(fn string, r *runtimeObj, m *wasm.Module, out *C.stark_module) C.stark_status {
	h := modules.add(&moduleObj{rt: r, m: m})
	if h == 0 {
		return fail(sExhausted, "%s: too many module handles", fn)
	}
	*out = C.stark_module(h)
	return sOK
}

func compileOpts(fn string, flags C.uint32_t) ([]wasm.CompileOption, C.stark_status) {
	if flags&^C.STARK_WASM_TRUSTED != 0 {
		return nil, fail(sInvalid, "%s: unknown flags %#x", fn, uint32(flags))
	}
	if flags&C.STARK_WASM_TRUSTED != 0 {
		return []wasm.CompileOption{wasm.Trusted()}, sOK
	}
	return nil, sOK
}

//export stark_wasm_load
func stark_wasm_load(h C.stark_runtime, bytes C.stark__cvoid, n C.size_t, name C.stark__cchar, flags C.uint32_t, out *C.stark_module) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_wasm_load"
	if out == nil {
		return fail(sInvalid, "%s: out is NULL", fn)
	}
	*out = 0
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	if bytes == nil || n == 0 {
		return fail(sInvalid, "%s: no module bytes", fn)
	}
	if uint64(n) > maxModuleBytes {
		return fail(sTooLarge, "%s: a %d-byte module is over the 1 GiB limit", fn, uint64(n))
	}
	opts, st := compileOpts(fn, flags)
	if st != sOK {
		return st
	}
	if name != nil {
		opts = append(opts, wasm.Named(C.GoString((*C.char)(unsafe.Pointer(name)))))
	}
	e, err := r.engine()
	if err != nil {
		return fromErr(err)
	}
	m, err := e.Compile(context.Background(), C.GoBytes(unsafe.Pointer(bytes), C.int(n)), opts...)
	if err != nil {
		return fromErr(err)
	}
	return addModule(fn, r, m, out)
}

//export stark_wasm_load_file
func stark_wasm_load_file(h C.stark_runtime, path C.stark__cchar, flags C.uint32_t, out *C.stark_module) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_wasm_load_file"
	if out == nil {
		return fail(sInvalid, "%s: out is NULL", fn)
	}
	*out = 0
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	p, st := cstring(fn, "path", path)
	if st != sOK {
		return st
	}
	opts, st := compileOpts(fn, flags)
	if st != sOK {
		return st
	}
	e, err := r.engine()
	if err != nil {
		return fromErr(err)
	}
	m, err := e.CompileFile(context.Background(), p, opts...)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fail(sNotFound, "%s: %v", fn, err)
		}
		return fromErr(err)
	}
	return addModule(fn, r, m, out)
}

func lookupModule(r *runtimeObj, h C.stark_module, fn string) (*moduleObj, C.stark_status) {
	m := modules.get(uint64(h))
	if m == nil || m.rt != r {
		return nil, fail(sNotFound, "%s: module handle %#x is not valid here (freed, or of another runtime)", fn, uint64(h))
	}
	return m, sOK
}

//export stark_wasm_register
func stark_wasm_register(h C.stark_runtime, name C.stark__cchar, module C.stark_module) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_wasm_register"
	r, s, st := named(h, fn, "name", name)
	if st != sOK {
		return st
	}
	m, st := lookupModule(r, module, fn)
	if st != sOK {
		return st
	}
	e, err := r.engine()
	if err != nil {
		return fromErr(err)
	}
	return fromErr(e.Register(s, m.m))
}

//export stark_module_free
func stark_module_free(h C.stark_runtime, module C.stark_module) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_module_free"
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "%s: runtime handle %#x is not valid", fn, uint64(h))
	}
	if _, st := lookupModule(r, module, fn); st != sOK {
		return st
	}
	m := modules.remove(uint64(module))
	if m == nil {
		return fail(sNotFound, "%s: module %#x was freed meanwhile", fn, uint64(module))
	}
	still := false // the same module may sit behind another handle (the same bytes load once)
	modules.each(func(_ uint64, o *moduleObj) { still = still || o.m == m.m })
	if !still {
		if e, err := r.engine(); err == nil {
			_ = e.Evict(m.m)
		}
	}
	return sOK
}

func releaseModulesOf(r *runtimeObj) {
	var hs []uint64
	modules.each(func(h uint64, m *moduleObj) {
		if m.rt == r {
			hs = append(hs, h)
		}
	})
	for _, h := range hs {
		modules.remove(h)
	}
}

// cstrings reads a C array of n strings.
func cstrings(fn, what string, p **C.char, n C.size_t) ([]string, C.stark_status) {
	if n == 0 {
		return nil, sOK
	}
	if p == nil || n > 1024 {
		return nil, fail(sInvalid, "%s: %s is NULL or has more than 1024 entries", fn, what)
	}
	var out []string
	for i, s := range unsafe.Slice(p, int(n)) {
		if s == nil {
			return nil, fail(sInvalid, "%s: %s[%d] is NULL", fn, what, i)
		}
		out = append(out, C.GoString(s))
	}
	return out, sOK
}

// wasmOptions turns stark_wasm_opts into spawn options.
func wasmOptions(fn string, o *C.stark_wasm_opts) ([]wasm.Option, C.stark_status) {
	if o == nil {
		return nil, sOK
	}
	if uintptr(o.struct_size) < unsafe.Sizeof(*o) {
		return nil, fail(sInvalid, "%s: wasm_opts->struct_size %d is too small", fn, o.struct_size)
	}
	var opts []wasm.Option
	if o.memory_pages > 0 {
		opts = append(opts, wasm.WithMemoryLimit(uint32(o.memory_pages)))
	}
	if o.deadline_ns > 0 {
		opts = append(opts, wasm.WithDeadline(dur(o.deadline_ns)))
	}
	if o.max_message > 0 {
		opts = append(opts, wasm.WithMaxMessage(int(min(uint64(o.max_message), 1<<31))))
	}
	if o.init_len > 0 {
		b, st := payload(fn, C.stark__cvoid(o.init), o.init_len)
		if st != sOK {
			return nil, st
		}
		opts = append(opts, wasm.WithInit(b))
	}
	dirs, st := cstrings(fn, "ro_dirs", (**C.char)(unsafe.Pointer(o.ro_dirs)), o.n_ro_dirs)
	if st != sOK {
		return nil, st
	}
	for _, d := range dirs {
		host, guest, ok := strings.Cut(d, ":")
		if !ok || host == "" || guest == "" {
			return nil, fail(sInvalid, "%s: ro_dirs entry %q is not host_path:guest_path", fn, d)
		}
		opts = append(opts, wasm.WithReadOnlyDir(host, guest))
	}
	env, st := cstrings(fn, "env", (**C.char)(unsafe.Pointer(o.env)), o.n_env)
	if st != sOK {
		return nil, st
	}
	if len(env) > 0 {
		opts = append(opts, wasm.WithEnv(env...))
	}
	spawn, st := cstrings(fn, "spawn", (**C.char)(unsafe.Pointer(o.spawn)), o.n_spawn)
	if st != sOK {
		return nil, st
	}
	if len(spawn) > 0 {
		opts = append(opts, wasm.WithSpawn(spawn...))
	}
	return opts, sOK
}

// wasmProducer resolves a module handle and options into a producer.
func wasmProducer(fn string, r *runtimeObj, module C.stark_module, o *C.stark_wasm_opts) (actor.Producer, []actor.Option, C.stark_status) {
	m, st := lookupModule(r, module, fn)
	if st != sOK {
		return nil, nil, st
	}
	opts, st := wasmOptions(fn, o)
	if st != sOK {
		return nil, nil, st
	}
	e, err := r.engine()
	if err != nil {
		return nil, nil, fromErr(err)
	}
	p, aopts, err := e.Producer(m.m, opts...)
	if err != nil {
		return nil, nil, fromErr(err)
	}
	return p, aopts, sOK
}

//export stark_spawn_wasm
func stark_spawn_wasm(h C.stark_runtime, module C.stark_module, wopts C.stark__cwasmopts, opts C.stark__copts, out *C.stark_ref) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_spawn_wasm"
	if out == nil {
		return fail(sInvalid, "%s: out is NULL", fn)
	}
	*out = 0
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	aopts, st := spawnOptions(fn, opts)
	if st != sOK {
		return st
	}
	p, wopts2, st := wasmProducer(fn, r, module, (*C.stark_wasm_opts)(unsafe.Pointer(wopts)))
	if st != sOK {
		return st
	}
	ref, err := r.rt.Spawn(p, append(wopts2, aopts...)...)
	if err != nil {
		return fromErr(err)
	}
	*out = C.stark_ref(ref)
	return sOK
}

//export stark_wasm_upgrade
func stark_wasm_upgrade(h C.stark_runtime, ref C.stark_ref, module C.stark_module, timeout C.uint64_t) (st C.stark_status) {
	defer guard(&st)
	const fn = "stark_wasm_upgrade"
	r, st := lookupRuntime(h, fn)
	if st != sOK {
		return st
	}
	m, st := lookupModule(r, module, fn)
	if st != sOK {
		return st
	}
	e, err := r.engine()
	if err != nil {
		return fromErr(err)
	}
	ctx, cancel := timeoutContext(timeout)
	defer cancel()
	return fromErr(e.Upgrade(ctx, r.rt, actor.Ref(ref), m.m))
}
