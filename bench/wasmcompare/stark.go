package wasmcompare

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/wasm"
)

// Cost is what one operation took: wall-clock time, and CPU time of the
// whole process (all threads), in nanoseconds per operation. An actor
// round trip may spread over two cores, so its wall time can be below the
// CPU it burns; both are reported.
type Cost struct{ Wall, CPU float64 }

type meter struct {
	start time.Time
	cpu   time.Duration
}

func startMeter() meter { return meter{start: time.Now(), cpu: cpuTime()} }

func (m meter) per(n int) Cost {
	return Cost{Wall: float64(time.Since(m.start).Nanoseconds()) / float64(n),
		CPU: float64((cpuTime() - m.cpu).Nanoseconds()) / float64(n)}
}

// cpuTime is the process's user plus system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Raw runs a STARK bench guest straight on wazero with none of the actor
// machinery: the payload is written into the guest's memory, stark_handle
// is called, and the guest's stark.reply copies the reply out. It is the
// floor an actor round trip is compared with.
type Raw struct {
	rt     wazero.Runtime
	mod    api.Module
	handle api.Function
	region uint32
	stack  []uint64
	reply  []byte
}

// NewRaw instantiates the guest at path. interruptible compiles it the way
// STARK's sandboxed mode does (wazero's WithCloseOnContextDone).
func NewRaw(ctx context.Context, path string, interruptible bool) (*Raw, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &Raw{stack: make([]uint64, 3)}
	r.rt = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(interruptible))
	wasi_snapshot_preview1.MustInstantiate(ctx, r.rt)
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b := r.rt.NewHostModuleBuilder("stark")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, m api.Module, s []uint64) {
		data, ok := m.Memory().Read(uint32(s[1]), uint32(s[2]))
		if !ok {
			panic("reply outside memory")
		}
		r.reply = append([]byte(nil), data...) // a reply outlives the call: copy, as STARK does
		s[0] = 0
	}), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).Export("reply")
	// The rest of the contract, inert: the bench guest never needs them
	// except next, which says "no more messages".
	stub := func(params []api.ValueType, results []api.ValueType, name string) {
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, s []uint64) {
			if len(results) > 0 {
				s[0] = 0
			}
		}), params, results).Export(name)
	}
	stub([]api.ValueType{i32}, []api.ValueType{i32}, "next")
	stub([]api.ValueType{i32, i32}, nil, "fail")
	stub([]api.ValueType{i64, i32, i32, i32}, []api.ValueType{i32}, "send")
	stub(nil, []api.ValueType{i64}, "self")
	stub(nil, []api.ValueType{i64}, "sender")
	stub([]api.ValueType{i32, i32, i32}, nil, "log")
	stub(nil, []api.ValueType{i64}, "now")
	stub([]api.ValueType{i64, i32, i32, i32, i32, i32}, []api.ValueType{i32}, "set_timer")
	stub([]api.ValueType{i64}, []api.ValueType{i32}, "cancel_timer")
	stub([]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}, "spawn")
	stub([]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, "lookup")
	stub([]api.ValueType{i32, i32}, []api.ValueType{i32}, "save")
	if _, err := b.Instantiate(ctx); err != nil {
		return nil, err
	}
	cfg := wazero.NewModuleConfig().WithStartFunctions().WithSysNanotime().WithSysWalltime()
	if r.mod, err = r.rt.InstantiateWithConfig(ctx, bin, cfg); err != nil {
		return nil, err
	}
	if f := r.mod.ExportedFunction("_initialize"); f != nil {
		if _, err := f.Call(ctx); err != nil {
			return nil, err
		}
	}
	res, err := r.mod.ExportedFunction("stark_alloc").Call(ctx, 4096)
	if err != nil {
		return nil, err
	}
	r.region = uint32(res[0])
	r.handle = r.mod.ExportedFunction("stark_handle")
	return r, nil
}

// Call handles one request and returns the reply.
func (r *Raw) Call(ctx context.Context, req []byte) ([]byte, error) {
	if !r.mod.Memory().Write(r.region, req) {
		return nil, fmt.Errorf("request of %d bytes does not fit", len(req))
	}
	r.stack[0], r.stack[1], r.stack[2] = 1, uint64(r.region), uint64(len(req))
	if err := r.handle.CallWithStack(ctx, r.stack); err != nil {
		return nil, err
	}
	if st := int32(r.stack[0]); st != 0 {
		return nil, fmt.Errorf("stark_handle returned %d", st)
	}
	return r.reply, nil
}

// Close releases the runtime.
func (r *Raw) Close(ctx context.Context) error { return r.rt.Close(ctx) }

// MeasureRaw returns the cost per Call over n calls, after checking one reply.
func MeasureRaw(ctx context.Context, path string, interruptible bool, n int) (Cost, error) {
	r, err := NewRaw(ctx, path, interruptible)
	if err != nil {
		return Cost{}, err
	}
	defer r.Close(ctx)
	req, want := BenchInput(7, Payload1KiB()), BenchOutput(7, Payload1KiB())
	if got, err := r.Call(ctx, req); err != nil || !bytes.Equal(got, want) {
		return Cost{}, fmt.Errorf("raw call: reply %x, err %v", head(got), err)
	}
	m := startMeter()
	for range n {
		if _, err := r.Call(ctx, req); err != nil {
			return Cost{}, err
		}
	}
	return m.per(n), nil
}

// Stark is one runtime and one engine for measurements.
type Stark struct {
	RT *host.Runtime
	E  *wasm.Engine
}

// NewStark starts a runtime with workers scheduler workers (0: one per core).
func NewStark(ctx context.Context, workers int) (*Stark, error) {
	cfg := host.NewConfig()
	if workers > 0 {
		cfg = cfg.WithWorkers(workers)
	}
	rt, err := host.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := rt.Start(); err != nil {
		return nil, err
	}
	e, err := wasm.NewEngine(ctx, wasm.NewConfig())
	if err != nil {
		return nil, err
	}
	return &Stark{RT: rt, E: e}, nil
}

// Close shuts the runtime down, then the engine.
func (s *Stark) Close(ctx context.Context) error {
	err := s.RT.Shutdown(ctx)
	if cerr := s.E.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// MeasureActor returns ns per message of the 1 KiB round trip through a
// WASM actor running the guest at path: a Go driver actor keeps window
// requests in flight and each reply (a message back from the guest) lets
// it send the next, n in all. This is the actor cost per message under
// load; the guest takes queued messages in batches (stark.next).
func (s *Stark) MeasureActor(ctx context.Context, path string, trusted bool, n, window int) (Cost, error) {
	var opts []wasm.CompileOption
	if trusted {
		opts = append(opts, wasm.Trusted())
	}
	m, err := s.E.CompileFile(ctx, path, opts...)
	if err != nil {
		return Cost{}, err
	}
	guest, err := s.E.Spawn(s.RT, m)
	if err != nil {
		return Cost{}, err
	}
	defer s.RT.Stop(guest)
	req, want := BenchInput(7, Payload1KiB()), BenchOutput(7, Payload1KiB())
	r, err := s.RT.Ask(ctx, guest, 1, req)
	if err != nil || !bytes.Equal(r.Bytes(), want) {
		return Cost{}, fmt.Errorf("actor ask: reply %x, err %v", head(r.Bytes()), err)
	}

	done := make(chan error, 1)
	sent, got := 0, 0
	driver, err := s.RT.SpawnFunc(func(ctx *actor.Context, msg *actor.Envelope) error {
		if msg.Sender == guest {
			if got == 0 && !bytes.Equal(msg.Bytes(), want) {
				done <- fmt.Errorf("reply %x", head(msg.Bytes()))
				return nil
			}
			got++
			if got == n {
				done <- nil
				return nil
			}
			if sent < n {
				sent++
				return ctx.Send(guest, 1, req)
			}
			return nil
		}
		for sent < min(window, n) {
			sent++
			if err := ctx.Send(guest, 1, req); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Cost{}, err
	}
	defer s.RT.Stop(driver)
	meter := startMeter()
	if err := s.RT.Send(driver, 0, nil); err != nil {
		return Cost{}, err
	}
	select {
	case err := <-done:
		if err != nil {
			return Cost{}, err
		}
	case <-time.After(2 * time.Minute):
		return Cost{}, fmt.Errorf("actor round trips: %d of %d after 2 minutes", got, n)
	}
	return meter.per(n), nil
}

// MeasureAsk returns ns per Ask (one request at a time: latency, not throughput).
func (s *Stark) MeasureAsk(ctx context.Context, path string, trusted bool, n int) (float64, error) {
	var opts []wasm.CompileOption
	if trusted {
		opts = append(opts, wasm.Trusted())
	}
	m, err := s.E.CompileFile(ctx, path, opts...)
	if err != nil {
		return 0, err
	}
	guest, err := s.E.Spawn(s.RT, m)
	if err != nil {
		return 0, err
	}
	defer s.RT.Stop(guest)
	req := BenchInput(7, Payload1KiB())
	if _, err := s.RT.Ask(ctx, guest, 1, req); err != nil {
		return 0, err
	}
	start := time.Now()
	for range n {
		if _, err := s.RT.Ask(ctx, guest, 1, req); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n), nil
}

// MeasureSpawn returns ns per spawn of a WASM actor from an already
// compiled module, counted until the actor has answered its first ask
// (instantiation, _initialize and stark_init included), n actors in all,
// then stops them.
func (s *Stark) MeasureSpawn(ctx context.Context, path string, n int) (float64, error) {
	m, err := s.E.CompileFile(ctx, path)
	if err != nil {
		return 0, err
	}
	refs := make([]actor.Ref, 0, n)
	defer func() {
		for _, r := range refs {
			_ = s.RT.Stop(r)
		}
	}()
	start := time.Now()
	for range n {
		ref, err := s.E.Spawn(s.RT, m)
		if err != nil {
			return 0, err
		}
		refs = append(refs, ref)
		if _, err := s.RT.Ask(ctx, ref, 2, nil); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n), nil
}

// LiveMemory spawns n actors of the guest at path, has each answer once,
// and returns the growth of the process's resident set and of the Go heap
// per actor while they are all alive. The actors are stopped before it returns.
func (s *Stark) LiveMemory(ctx context.Context, path string, n int) (rssPerActor, heapPerActor float64, err error) {
	m, err := s.E.CompileFile(ctx, path)
	if err != nil {
		return 0, 0, err
	}
	runtime.GC()
	rss0, heap0 := rss(), heapAlloc()
	refs := make([]actor.Ref, n)
	for i := range refs {
		if refs[i], err = s.E.Spawn(s.RT, m); err != nil {
			return 0, 0, err
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for _, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RT.Ask(ctx, ref, 2, nil); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return 0, 0, err
	default:
	}
	if live := s.E.Stats().Instances; live < int64(n) {
		return 0, 0, fmt.Errorf("%d instances alive, want %d", live, n)
	}
	runtime.GC()
	rss1, heap1 := rss(), heapAlloc()
	for _, r := range refs {
		_ = s.RT.Stop(r)
	}
	return float64(rss1-rss0) / float64(n), float64(int64(heap1)-int64(heap0)) / float64(n), nil
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// rss returns the resident set size in bytes (Linux; 0 elsewhere).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
