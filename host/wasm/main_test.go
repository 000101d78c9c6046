package wasm_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/wasm"
)

// The guests are real modules compiled from source (make guests) into
// build/wasm at the repository root; TestMain builds them when they are
// missing or stale (a no-op when make test already did).
var guestDir string

// cacheDir is wazero's on-disk compilation cache shared by the tests of
// this run, so each Go guest (a 3.6 MB module, about a second to compile)
// is compiled once per mode rather than once per test.
var cacheDir string

func TestMain(m *testing.M) {
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	guestDir = filepath.Join(root, "build", "wasm")
	if os.Getenv("STARK_SKIP_GUEST_BUILD") == "" {
		cmd := exec.Command("make", "-s", "-C", root, "guests")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building the WASM guests (make guests) failed: %v\n"+
				"they need clang-14, lld-14, wasi-libc and libclang-rt-14-dev-wasm32 (see .ci/run)\n", err)
			os.Exit(2)
		}
	}
	// STARK_WASM_TEST_CACHE keeps the cache between runs: make test fills
	// it in a quick run without the race detector, under which wazero's
	// compiler is ten times slower, and the race run then loads from it.
	cacheDir = os.Getenv("STARK_WASM_TEST_CACHE")
	if cacheDir == "" {
		if cacheDir, err = os.MkdirTemp("", "stark-wasm-test-cache-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer os.RemoveAll(cacheDir)
	}
	code := m.Run()
	if code != 0 {
		os.Exit(code)
	}
}

func guestPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(guestDir, name+".wasm")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("guest %s not built: %v (run make guests)", name, err)
	}
	return p
}

func guestBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(guestPath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// env is one runtime plus one engine, torn down at the end of the test.
type env struct {
	rt *host.Runtime
	e  *wasm.Engine
}

func newEnv(t testing.TB, cfg wasm.Config, hc ...func(host.Config) host.Config) *env {
	t.Helper()
	c := host.NewConfig().WithAskTimeout(10 * time.Second)
	for _, f := range hc {
		c = f(c)
	}
	rt, err := host.New(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	if cfg.CacheDir() == "" {
		cfg = cfg.WithCacheDir(cacheDir)
	}
	e, err := wasm.NewEngine(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := rt.Shutdown(ctx); err != nil {
			t.Errorf("runtime shutdown: %v", err)
		}
		if n := e.Stats().Instances; n != 0 {
			t.Errorf("%d guest instances still open after shutdown", n)
		}
		if err := e.Close(ctx); err != nil {
			t.Errorf("engine close: %v", err)
		}
	})
	return &env{rt: rt, e: e}
}

func (v *env) compile(t testing.TB, name string, opts ...wasm.CompileOption) *wasm.Module {
	t.Helper()
	m, err := v.e.CompileFile(context.Background(), guestPath(t, name), opts...)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return m
}

func (v *env) spawn(t testing.TB, m *wasm.Module, opts ...wasm.Option) actor.Ref {
	t.Helper()
	ref, err := v.e.Spawn(v.rt, m, opts...)
	if err != nil {
		t.Fatalf("spawn %s: %v", m.Name(), err)
	}
	return ref
}

func (v *env) ask(t testing.TB, ref actor.Ref, tag uint32, payload []byte) ([]byte, uint32) {
	t.Helper()
	r, err := v.askErr(ref, tag, payload)
	if err != nil {
		t.Fatalf("ask %v tag %d: %v", ref, tag, err)
	}
	return r.Bytes(), r.Tag
}

func (v *env) askErr(ref actor.Ref, tag uint32, payload []byte) (actor.Envelope, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return v.rt.Ask(ctx, ref, tag, payload)
}

func le32(b []byte) int32 {
	if len(b) < 4 {
		return -1 << 31
	}
	return int32(binary.LittleEndian.Uint32(b))
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

func put64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
