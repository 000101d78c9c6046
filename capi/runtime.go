package main

/*
#include <stdlib.h>
#include <string.h>
#include "stark.h"
typedef const stark_config *stark__cconfig;
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/device"
	"github.com/stark-rt/stark/host/mem"
	"github.com/stark-rt/stark/host/wasm"
)

// runtimeObj is what a stark_runtime handle names.
type runtimeObj struct {
	h       uint64
	rt      *host.Runtime
	wcfg    wasm.Config
	reaper  actor.Ref // watches native actors and frees their user data
	stopped atomic.Bool

	mu                      sync.Mutex
	eng                     *wasm.Engine             // created at the first WASM call
	natives                 map[actor.Ref][]*native  // natives to free when that actor terminates
	dev                     *device.Manager          // the device backend, started at the first device call
	deviceName, backendPath string                   // stark_config.device and backend_path
	polled                  map[actor.Ref]*pollerObj // polled actors, to tell their poller when they end
}

var runtimes table[runtimeObj]

// has reports whether a struct of size bytes (the caller's struct_size)
// contains the field at off of n bytes.
func has(size C.uint32_t, off, n uintptr) bool { return uintptr(size) >= off+n }

func dur(ns C.uint64_t) time.Duration {
	if uint64(ns) > uint64(1<<63-1) {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(ns)
}

//export stark_abi_version
func stark_abi_version() C.uint32_t { return C.STARK_ABI_VERSION }

//export stark_config_init
func stark_config_init(cfg *C.stark_config) (st C.stark_status) {
	defer guard(&st)
	if cfg == nil {
		return fail(sInvalid, "stark_config_init: cfg is NULL")
	}
	C.memset(unsafe.Pointer(cfg), 0, C.sizeof_stark_config)
	cfg.struct_size = C.sizeof_stark_config
	return sOK
}

//export stark_runtime_new
func stark_runtime_new(cfg C.stark__cconfig, out *C.stark_runtime) (st C.stark_status) {
	defer guard(&st)
	if out == nil {
		return fail(sInvalid, "stark_runtime_new: out is NULL")
	}
	*out = 0
	hc := host.NewConfig().WithPool(mem.DefaultConfig().WithAllocator(cAllocator{}))
	wc := wasm.NewConfig()
	var devName, backendPath string
	if cfg != nil {
		c := (*C.stark_config)(unsafe.Pointer(cfg))
		size := c.struct_size
		if size < C.uint32_t(unsafe.Offsetof(c.ask_timeout_ns)) {
			return fail(sInvalid, "stark_runtime_new: cfg->struct_size %d is too small (set it to sizeof(stark_config))", size)
		}
		if c.workers > 0 {
			hc = hc.WithWorkers(int(c.workers))
		}
		if c.mailbox_capacity > 0 {
			hc = hc.WithMailboxCapacity(int(c.mailbox_capacity))
		}
		if c.budget > 0 {
			hc = hc.WithBudget(int(c.budget))
		}
		if c.max_actors > 0 {
			hc = hc.WithMaxActors(int(c.max_actors))
		}
		if has(size, unsafe.Offsetof(c.ask_timeout_ns), 8) && c.ask_timeout_ns > 0 {
			hc = hc.WithAskTimeout(dur(c.ask_timeout_ns))
		}
		if has(size, unsafe.Offsetof(c.shutdown_timeout_ns), 8) && c.shutdown_timeout_ns > 0 {
			hc = hc.WithShutdownTimeout(dur(c.shutdown_timeout_ns))
		}
		if has(size, unsafe.Offsetof(c.pool_limit_bytes), 8) && c.pool_limit_bytes > 0 {
			hc = hc.WithPool(mem.DefaultConfig().WithAllocator(cAllocator{}).WithLimit(int64(min(uint64(c.pool_limit_bytes), 1<<62))))
		}
		if has(size, unsafe.Offsetof(c.wasm_cache_dir), 8) && c.wasm_cache_dir != nil {
			wc = wc.WithCacheDir(C.GoString(c.wasm_cache_dir))
		}
		if has(size, unsafe.Offsetof(c.wasm_memory_pages), 4) && c.wasm_memory_pages > 0 {
			if c.wasm_memory_pages > 65536 {
				return fail(sInvalid, "stark_runtime_new: wasm_memory_pages %d is over 65536", c.wasm_memory_pages)
			}
			wc = wc.WithMemoryLimit(uint32(c.wasm_memory_pages))
		}
		if has(size, unsafe.Offsetof(c.wasm_deadline_ns), 8) && c.wasm_deadline_ns > 0 {
			wc = wc.WithDeadline(dur(c.wasm_deadline_ns))
		}
		if has(size, unsafe.Offsetof(c.device), 8) && c.device != nil {
			devName = C.GoString(c.device)
		}
		if has(size, unsafe.Offsetof(c.backend_path), 8) && c.backend_path != nil {
			backendPath = C.GoString(c.backend_path)
		}
	}
	rt, err := host.New(hc)
	if err != nil {
		return fromErr(err)
	}
	if err := rt.Start(); err != nil {
		return fromErr(err)
	}
	r := &runtimeObj{rt: rt, wcfg: wc, natives: map[actor.Ref][]*native{}, polled: map[actor.Ref]*pollerObj{},
		deviceName: devName, backendPath: backendPath}
	r.reaper, err = rt.SpawnFunc(r.reap)
	if err != nil {
		_ = rt.Shutdown(context.Background())
		return fromErr(err)
	}
	r.h = runtimes.add(r)
	if r.h == 0 {
		_ = rt.Shutdown(context.Background())
		return fail(sExhausted, "stark_runtime_new: too many runtimes")
	}
	*out = C.stark_runtime(r.h)
	return sOK
}

// lookupRuntime resolves a handle of a running runtime.
func lookupRuntime(h C.stark_runtime, fn string) (*runtimeObj, C.stark_status) {
	r := runtimes.get(uint64(h))
	if r == nil {
		return nil, fail(sNotFound, "%s: runtime handle %#x is not valid (never created, or freed)", fn, uint64(h))
	}
	if r.stopped.Load() {
		return nil, fail(sStopped, "%s: the runtime is shut down", fn)
	}
	return r, sOK
}

// shutdown stops the runtime once; later calls report the first result.
func (r *runtimeObj) shutdown(timeout time.Duration) error {
	if r.stopped.Swap(true) {
		return nil
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := r.rt.Shutdown(ctx)
	r.freeNatives()
	r.mu.Lock()
	eng, dev := r.eng, r.dev
	r.mu.Unlock()
	if eng != nil {
		_ = eng.Close(context.Background())
	}
	if dev != nil {
		_ = dev.Close()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: actors were killed after %v", actor.ErrTimeout, timeout)
	}
	return err
}

//export stark_runtime_shutdown
func stark_runtime_shutdown(h C.stark_runtime, timeout C.uint64_t) (st C.stark_status) {
	defer guard(&st)
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "stark_runtime_shutdown: runtime handle %#x is not valid", uint64(h))
	}
	return fromErr(r.shutdown(dur(timeout)))
}

//export stark_runtime_free
func stark_runtime_free(h C.stark_runtime) (st C.stark_status) {
	defer guard(&st)
	r := runtimes.remove(uint64(h))
	if r == nil {
		return fail(sNotFound, "stark_runtime_free: runtime handle %#x is not valid (already freed?)", uint64(h))
	}
	_ = r.shutdown(0)
	releaseOwnedBy(r)
	// The pool keeps released arrays for reuse; they are C memory (the
	// cAllocator), which nothing frees once the runtime is gone.
	r.rt.Pool().Trim()
	return sOK
}

//export stark_runtime_metrics
func stark_runtime_metrics(h C.stark_runtime, out *C.stark_metrics) (st C.stark_status) {
	defer guard(&st)
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "stark_runtime_metrics: runtime handle %#x is not valid", uint64(h))
	}
	if out == nil || out.struct_size < C.uint32_t(unsafe.Offsetof(out.actors)) {
		return fail(sInvalid, "stark_runtime_metrics: out is NULL or its struct_size is too small")
	}
	m := r.rt.Metrics()
	var w C.stark_metrics
	w.struct_size = out.struct_size
	w.workers = C.uint32_t(r.rt.Scheduler().Workers())
	w.actors = C.uint64_t(m.Actors.Actors)
	w.accepted = C.uint64_t(m.Messages.Accepted)
	w.processed = C.uint64_t(m.Messages.Processed)
	w.dead_lettered = C.uint64_t(m.Messages.DeadLettered)
	w.queued = C.uint64_t(m.Messages.Queued)
	w.failures = C.uint64_t(m.Actors.Failures)
	w.restarts = C.uint64_t(m.Actors.Restarts)
	w.escalations = C.uint64_t(m.Actors.Escalations)
	w.dead_letters = C.uint64_t(m.Actors.DeadLetters.Total)
	w.pool_live_bytes = C.uint64_t(m.Pool.LiveBytes)
	w.pool_peak_bytes = C.uint64_t(m.Pool.PeakBytes)
	w.pool_cached_bytes = C.uint64_t(m.Pool.CachedBytes)
	w.pool_limit_bytes = C.uint64_t(m.Pool.Limit)
	w.sched_runs = C.uint64_t(m.Scheduler.Runs)
	w.sched_steals = C.uint64_t(m.Scheduler.Steals)
	w.sched_parks = C.uint64_t(m.Scheduler.Parks)
	r.mu.Lock()
	if r.eng != nil {
		es := r.eng.Stats()
		w.wasm_instances = C.uint64_t(es.Instances)
		w.wasm_compiles = C.uint64_t(es.Compiles)
	}
	r.mu.Unlock()
	n := min(uintptr(out.struct_size), unsafe.Sizeof(w))
	C.memcpy(unsafe.Pointer(out), unsafe.Pointer(&w), C.size_t(n))
	return sOK
}

//export stark_counters_get
func stark_counters_get(h C.stark_runtime, ref C.stark_ref, out *C.stark_counters) (st C.stark_status) {
	defer guard(&st)
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "stark_counters_get: runtime handle %#x is not valid", uint64(h))
	}
	if out == nil || out.struct_size < C.uint32_t(unsafe.Sizeof(*out)) {
		return fail(sInvalid, "stark_counters_get: out is NULL or its struct_size is too small")
	}
	var c actor.Counters
	if ref == 0 {
		c = r.rt.Counters()
	} else {
		var err error
		if c, err = r.rt.ActorCounters(actor.Ref(ref)); err != nil {
			return fromErr(err)
		}
	}
	out.accepted, out.processed = C.uint64_t(c.Accepted), C.uint64_t(c.Processed)
	out.dead_lettered, out.queued = C.uint64_t(c.DeadLettered), C.uint64_t(c.Queued)
	return sOK
}

//export stark_dead_letters
func stark_dead_letters(h C.stark_runtime, items *C.stark_dead_letter, capacity C.size_t, n *C.size_t) (st C.stark_status) {
	defer guard(&st)
	r := runtimes.get(uint64(h))
	if r == nil {
		return fail(sNotFound, "stark_dead_letters: runtime handle %#x is not valid", uint64(h))
	}
	if n == nil || (items == nil && capacity > 0) {
		return fail(sInvalid, "stark_dead_letters: NULL n, or NULL items with a capacity")
	}
	*n = 0
	if capacity == 0 {
		return sOK
	}
	stride := uintptr(items.struct_size)
	if stride == 0 {
		stride = C.sizeof_stark_dead_letter
	}
	if stride < unsafe.Offsetof(items.reason)+1 {
		return fail(sInvalid, "stark_dead_letters: items[0].struct_size %d is too small", stride)
	}
	dl := r.rt.DeadLetters()
	if len(dl) > int(capacity) {
		dl = dl[len(dl)-int(capacity):]
	}
	for i, d := range dl {
		it := (*C.stark_dead_letter)(unsafe.Add(unsafe.Pointer(items), uintptr(i)*stride))
		var w C.stark_dead_letter
		w.struct_size = C.uint32_t(stride)
		w.tag, w.target, w.sender = C.uint32_t(d.Tag), C.stark_ref(d.Target), C.stark_ref(d.Sender)
		w.size, w.at_unix_ns = C.uint64_t(d.Size), C.int64_t(d.At.UnixNano())
		msg := ""
		if d.Reason != nil {
			w.cause = statusOf(d.Reason)
			var ne *nativeError
			if errors.As(d.Reason, &ne) {
				w.cause = ne.status // the status the native handler returned
			}
			msg = d.Reason.Error()
		}
		// Truncated to what the caller's element holds, NUL included.
		room := min(uintptr(len(w.reason)), stride-unsafe.Offsetof(w.reason))
		reason := unsafe.Slice((*byte)(unsafe.Pointer(&w.reason[0])), room)
		copy(reason[:room-1], msg)
		C.memcpy(unsafe.Pointer(it), unsafe.Pointer(&w), C.size_t(min(stride, unsafe.Sizeof(w))))
	}
	*n = C.size_t(len(dl))
	return sOK
}

// engine returns the runtime's WASM engine, creating it on first use.
func (r *runtimeObj) engine() (*wasm.Engine, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.eng == nil {
		e, err := wasm.NewEngine(context.Background(), r.wcfg)
		if err != nil {
			return nil, err
		}
		r.eng = e
	}
	return r.eng, nil
}

// cAllocator gives the runtime's buffer pool C memory, so pointers to
// buffer contents may be held by C code (and wrapped by numpy) without the
// Go collector owning them.
type cAllocator struct{}

func (cAllocator) Alloc(n int) []byte {
	p := C.calloc(1, C.size_t(max(n, 1)))
	if p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

func (cAllocator) Free(b []byte) {
	if p := unsafe.SliceData(b); p != nil {
		C.free(unsafe.Pointer(p))
	}
}

var _ mem.Allocator = cAllocator{}
