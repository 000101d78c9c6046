package wasm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/wasm"
)

func mp(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unmp[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := msgpack.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
	return v
}

// TestCounterRoundTrip runs the counter example built from Go and from C:
// msgpack in, msgpack out, state kept between messages, init bytes honoured.
func TestCounterRoundTrip(t *testing.T) {
	for _, name := range []string{"counter-c", "counter-go"} {
		t.Run(name, func(t *testing.T) {
			v := newEnv(t, wasm.NewConfig())
			m := v.compile(t, name)
			ref := v.spawn(t, m, wasm.WithInit(mp(t, 100)))
			for i, add := range []int64{5, -7, 1 << 40} {
				out, tag := v.ask(t, ref, 1, mp(t, add))
				want := []int64{105, 98, 98 + 1<<40}[i]
				if got := unmp[int64](t, out); got != want || tag != 1 {
					t.Fatalf("add %d: got %d tag %d, want %d", add, got, tag, want)
				}
			}
			out, _ := v.ask(t, ref, 2, nil)
			if got := unmp[int64](t, out); got != 98+1<<40 {
				t.Fatalf("get: %d", got)
			}
			// A second actor from the same module has its own state.
			other := v.spawn(t, m)
			out, _ = v.ask(t, other, 2, nil)
			if got := unmp[int64](t, out); got != 0 {
				t.Fatalf("fresh actor total %d, want 0", got)
			}
		})
	}
}

// TestHostFunctions drives every stark import through the echo guests.
func TestHostFunctions(t *testing.T) {
	for _, name := range []string{"c-echo", "go-echo"} {
		t.Run(name, func(t *testing.T) {
			v := newEnv(t, wasm.NewConfig())
			ref := v.spawn(t, v.compile(t, name))

			payload := bytes.Repeat([]byte("stark!"), 5000) // 30 KB: the payload region grows
			if out, tag := v.ask(t, ref, 1, payload); !bytes.Equal(out, payload) || tag != 1 {
				t.Fatalf("echo: %d bytes tag %d", len(out), tag)
			}
			if out, _ := v.ask(t, ref, 1, nil); len(out) != 0 {
				t.Fatalf("empty echo: %q", out)
			}

			// send to a live Go actor arrives, with the guest as sender.
			got := make(chan actor.Envelope, 1)
			sink, _ := v.rt.SpawnFunc(func(ctx *actor.Context, m *actor.Envelope) error {
				got <- actor.Envelope{Tag: m.Tag, Sender: m.Sender, Data: append([]byte(nil), m.Bytes()...)}
				return nil
			})
			if out, _ := v.ask(t, ref, 2, put64(uint64(sink))); le32(out) != int32(wasm.StatusOK) {
				t.Fatalf("send to live actor: status %d", le32(out))
			}
			select {
			case m := <-got:
				if m.Tag != 7 || string(m.Data) != "ping" || m.Sender != ref {
					t.Fatalf("sink got tag %d %q from %v", m.Tag, m.Data, m.Sender)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the guest's send never arrived")
			}
			// send to a stale ref is NOT_FOUND, not a failure.
			if err := v.rt.Stop(sink); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "sink to stop", func() bool { return !v.rt.Alive(sink) })
			if out, _ := v.ask(t, ref, 2, put64(uint64(sink))); le32(out) != int32(wasm.StatusNotFound) {
				t.Fatalf("send to stale ref: status %d, want NOT_FOUND", le32(out))
			}

			// self and sender.
			asker, _ := v.rt.SpawnFunc(func(ctx *actor.Context, m *actor.Envelope) error {
				r, err := ctx.Ask(context.Background(), ref, 3, nil)
				if err != nil {
					return err
				}
				return ctx.Reply(0, append(put64(uint64(ctx.Self())), r.Bytes()...))
			})
			out, _ := v.ask(t, asker, 0, nil)
			if len(out) != 24 || le64(out[8:]) != uint64(ref) || le64(out[16:]) != le64(out) {
				t.Fatalf("self/sender: %x (guest %v)", out, ref)
			}

			// log and now.
			if _, tag := v.ask(t, ref, 4, []byte("hello from the guest")); tag != 4 && tag != 0 {
				t.Fatalf("log reply tag %d", tag)
			}
			before := time.Now().UnixNano()
			out, _ = v.ask(t, ref, 5, nil)
			if now := int64(le64(out)); now < before-int64(time.Second) || now > time.Now().UnixNano() {
				t.Fatalf("now %d outside [%d, now]", now, before)
			}
			// An unknown tag is still answered.
			if _, tag := v.ask(t, ref, 999, nil); tag != 0 {
				t.Fatalf("unknown tag answered with tag %d", tag)
			}
		})
	}
}

// TestTimersLookupSpawn covers set_timer, lookup and spawn (with and
// without the grant).
func TestTimersLookupSpawn(t *testing.T) {
	v := newEnv(t, wasm.NewConfig())
	m := v.compile(t, "c-echo")
	if err := v.e.Register("echo", m); err != nil {
		t.Fatal(err)
	}
	ref := v.spawn(t, m, wasm.WithActorOptions(actor.WithName("echo-1")), wasm.WithSpawn("echo"))

	if out, _ := v.ask(t, ref, 6, put64(uint64(5*time.Millisecond))); le32(out) != 0 {
		t.Fatalf("set_timer status %d", le32(out))
	}
	waitFor(t, "the timer message", func() bool {
		out, _ := v.ask(t, ref, 10, nil)
		return le32(out) == 1
	})

	out, _ := v.ask(t, ref, 11, []byte("echo-1"))
	if le32(out) != 0 || le64(out[4:]) != uint64(ref) {
		t.Fatalf("lookup echo-1: status %d ref %x", le32(out), out)
	}
	if out, _ := v.ask(t, ref, 11, []byte("nobody")); le32(out) != int32(wasm.StatusNotFound) {
		t.Fatalf("lookup of an unknown name: status %d", le32(out))
	}

	out, _ = v.ask(t, ref, 12, []byte("echo"))
	if le32(out) != 0 {
		t.Fatalf("spawn status %d", le32(out))
	}
	child := actor.Ref(le64(out[4:]))
	if got, _ := v.ask(t, child, 1, []byte("child")); string(got) != "child" {
		t.Fatalf("child echo %q", got)
	}
	kids, _ := v.rt.Children(ref)
	if len(kids) != 1 || kids[0] != child {
		t.Fatalf("children of the guest: %v, want [%v]", kids, child)
	}
	if out, _ := v.ask(t, ref, 12, []byte("unregistered")); le32(out) != int32(wasm.StatusDenied) {
		t.Fatalf("spawn of a module not granted: status %d, want DENIED", le32(out))
	}
	// Without WithSpawn nothing may be spawned.
	plain := v.spawn(t, m)
	if out, _ := v.ask(t, plain, 12, []byte("echo")); le32(out) != int32(wasm.StatusDenied) {
		t.Fatalf("spawn without a grant: status %d, want DENIED", le32(out))
	}
}

var errTrapOrDeadline = errors.New("trap or deadline")

// TestHostileGuests: every misbehaviour is an actor failure. The failing
// message is dead-lettered with the reason, the waiting ask ends with it,
// the instance is closed, the supervisor starts a fresh one that answers,
// and the host keeps going.
func TestHostileGuests(t *testing.T) {
	cases := []struct {
		guest string
		tag   uint32
		kind  error
		says  string // part of the reason
	}{
		{"c-loop", 1, wasm.ErrDeadline, "ran longer than"},
		{"c-membomb", 1, wasm.ErrTrap, ""},
		{"c-membomb", 2, wasm.ErrGuestStatus, "memory limit"},
		{"c-recurse", 1, wasm.ErrTrap, ""},
		// Native recursion: wazero's stack ceiling or the deadline, whichever comes first.
		{"c-recurse", 2, errTrapOrDeadline, ""},
		{"c-unreachable", 1, wasm.ErrTrap, "unreachable"},
		{"c-badptr", 1, wasm.ErrTrap, "stark.send: pointer"},
		{"c-badptr", 2, wasm.ErrTrap, "stark.reply: pointer"},
		{"c-echo", 13, wasm.ErrGuestStatus, "told to fail"},
		{"go-panic", 1, wasm.ErrGuestStatus, "guest panicked on purpose"},
		{"go-panic", 2, wasm.ErrGuestStatus, "handler error on purpose"},
		{"go-panic", 3, wasm.ErrGuestStatus, "index out of range"},
		{"go-panic", 4, wasm.ErrTrap, ""},
	}
	v := newEnv(t, wasm.NewConfig().WithDeadline(200*time.Millisecond).WithMemoryLimit(512))
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%d", tc.guest, tc.tag), func(t *testing.T) {
			m := v.compile(t, tc.guest)
			ref := v.spawn(t, m)
			echo := uint32(100)
			if tc.guest == "c-echo" {
				echo = 1
			}
			if out, _ := v.ask(t, ref, echo, []byte("before")); !bytes.Equal(out, []byte("before")) {
				t.Fatalf("echo before: %q", out)
			}
			before := v.rt.Counters()
			_, err := v.askErr(ref, tc.tag, []byte("x"))
			if err == nil {
				t.Fatalf("hostile tag %d answered without error", tc.tag)
			}
			t.Logf("reason: %v", err)
			if tc.kind == errTrapOrDeadline && (errors.Is(err, wasm.ErrTrap) || errors.Is(err, wasm.ErrDeadline)) {
				tc.kind = wasm.ErrTrap
				if errors.Is(err, wasm.ErrDeadline) {
					tc.kind = wasm.ErrDeadline
				}
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("error %v: want %v", err, tc.kind)
			}
			var ge *wasm.GuestError
			if !errors.As(err, &ge) || ge.Export != "stark_handle" {
				t.Fatalf("error %T %v: want a *GuestError from stark_handle", err, err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("reason %q does not say %q", err, tc.says)
			}
			// The supervisor restarts the actor on the same ref with a fresh instance.
			waitFor(t, "a fresh instance to answer", func() bool {
				r, err := v.askErr(ref, echo, []byte("after"))
				return err == nil && string(r.Bytes()) == "after"
			})
			after := v.rt.Counters()
			if after.DeadLettered <= before.DeadLettered {
				t.Fatalf("the failing message was not dead-lettered: %+v -> %+v", before, after)
			}
			found := false
			for _, d := range v.rt.DeadLetters() {
				if d.Target == ref && d.Tag == tc.tag && errors.Is(d.Reason, tc.kind) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no dead letter for tag %d with reason %v", tc.tag, tc.kind)
			}
			if err := v.rt.Stop(ref); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the actor to stop", func() bool { return !v.rt.Alive(ref) })
		})
	}
	waitFor(t, "every instance closed", func() bool { return v.e.Stats().Instances == 0 })
	if c := v.rt.Counters(); !c.Balanced() {
		t.Fatalf("conservation broken: %+v", c)
	}
}

// TestContractViolations: modules that do not fit are refused at compile
// time with an error that names the problem.
func TestContractViolations(t *testing.T) {
	v := newEnv(t, wasm.NewConfig())
	ctx := context.Background()
	good := guestBytes(t, "c-echo")
	cases := []struct {
		name  string
		bytes []byte
		kind  error
		says  string
	}{
		{"empty", nil, wasm.ErrMalformed, "not a WebAssembly binary"},
		{"text", []byte("(module)"), wasm.ErrMalformed, "not a WebAssembly binary"},
		{"truncated", good[:len(good)/2], wasm.ErrMalformed, ""},
		{"flipped", flip(good), wasm.ErrMalformed, ""},
		{"missing-handle", guestBytes(t, "c-missing-handle"), wasm.ErrContract, "missing export stark_handle"},
		{"bad-signature", guestBytes(t, "c-bad-signature"), wasm.ErrContract, "export stark_handle has type (i64) -> (i64)"},
		{"bad-version", guestBytes(t, "c-bad-version"), wasm.ErrContract, "stark_abi_version returned 99"},
		{"bad-import", guestBytes(t, "c-bad-import"), wasm.ErrContract, "env.mystery"},
		{"command", guestBytes(t, "c-command"), wasm.ErrContract, "_start"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.e.Compile(ctx, tc.bytes, wasm.Named(tc.name))
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %v saying %q", err, tc.kind, tc.says)
			}
		})
	}
	if _, err := v.e.CompileFile(ctx, "no/such/file.wasm"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	m := v.compile(t, "c-echo")
	for _, o := range []wasm.Option{wasm.WithMemoryLimit(0), wasm.WithDeadline(0), wasm.WithMaxMessage(-1),
		wasm.WithReadOnlyDir("/no/such/dir", "/data")} {
		if _, err := v.e.Spawn(v.rt, m, o); !errors.Is(err, actor.ErrInvalid) {
			t.Fatalf("bad option accepted: %v", err)
		}
	}
	if _, err := v.e.Spawn(v.rt, m, wasm.WithMemoryLimit(m.MinPages()-1)); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("memory limit under the module's initial memory accepted: %v", err)
	}
}

// flip corrupts bytes in the middle of a module (inside the code section).
func flip(b []byte) []byte {
	c := append([]byte(nil), b...)
	for i := len(c) / 3; i < len(c)/3+64 && i < len(c); i++ {
		c[i] = 0xff
	}
	return c
}

// TestCompileCache: the same bytes compile once; later spawns and compiles
// hit the cache; the on-disk cache is written when configured.
func TestCompileCache(t *testing.T) {
	dir := t.TempDir()
	v := newEnv(t, wasm.NewConfig().WithCacheDir(dir))
	m1 := v.compile(t, "counter-c")
	st := v.e.Stats()
	m2 := v.compile(t, "counter-c")
	if m1 != m2 {
		t.Fatal("the second compile of the same bytes made a new module")
	}
	for range 3 {
		ref := v.spawn(t, m2)
		v.ask(t, ref, 2, nil)
	}
	after := v.e.Stats()
	if after.Compiles != st.Compiles || after.CacheHits != st.CacheHits+1 {
		t.Fatalf("stats %+v -> %+v: want no new compile and one cache hit", st, after)
	}
	// Trusted is a different compilation of the same bytes.
	if m3 := v.compile(t, "counter-c", wasm.Trusted()); m3 == m1 || !m3.Trusted() {
		t.Fatal("trusted compile returned the sandboxed module")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) == 0 {
		t.Fatal("the on-disk compilation cache is empty")
	}
}

// TestUpgrade: hot upgrade with state, without state, and a failing new
// module that leaves the old one running; no message is lost meanwhile.
func TestUpgrade(t *testing.T) {
	v := newEnv(t, wasm.NewConfig())
	ctx := context.Background()
	v1 := v.compile(t, "upgrade-v1")
	v2 := v.compile(t, "upgrade-v2")
	stateless := v.compile(t, "upgrade-v2-stateless")
	bad := v.compile(t, "upgrade-v2-badinit")
	ref := v.spawn(t, v1)

	type stats struct {
		Version int64 `msgpack:"version"`
		Total   int64 `msgpack:"total"`
		Count   int64 `msgpack:"count"`
	}
	get := func() stats {
		out, _ := v.ask(t, ref, 2, nil)
		return unmp[stats](t, out)
	}

	// Senders keep adding while the upgrade happens.
	const senders, each = 4, 250
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := v.rt.Send(ref, 1, mp(t, 2)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	time.Sleep(time.Millisecond)
	if err := v.e.Upgrade(ctx, v.rt, ref, v2); err != nil {
		t.Fatalf("upgrade v1 -> v2: %v", err)
	}
	wg.Wait()
	s := get()
	if s.Version != 2 || s.Count != senders*each || s.Total != 2*senders*each {
		t.Fatalf("after upgrade with state: %+v, want version 2, %d messages, total %d", s, senders*each, 2*senders*each)
	}

	// A new module that fails to start: the caller gets the error, v2 keeps its state.
	err := v.e.Upgrade(ctx, v.rt, ref, bad)
	if err == nil || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("upgrade to a module whose init fails: %v", err)
	}
	if s2 := get(); s2 != s {
		t.Fatalf("state after a failed upgrade %+v, want %+v", s2, s)
	}

	// Upgrade to a module without restore: state starts over.
	if err := v.e.Upgrade(ctx, v.rt, ref, stateless); err != nil {
		t.Fatal(err)
	}
	if s3 := get(); s3.Total != 0 || s3.Count != 0 || s3.Version != 2 {
		t.Fatalf("after a stateless upgrade: %+v, want zero state", s3)
	}
	if err := v.rt.Send(ref, 1, mp(t, 5)); err != nil {
		t.Fatal(err)
	}

	// Back to v1 is allowed too, and a later restart uses the module in place.
	if err := v.e.Upgrade(ctx, v.rt, ref, v1); err != nil {
		t.Fatal(err)
	}
	if s4 := get(); s4.Version != 1 {
		t.Fatalf("after upgrading back: %+v", s4)
	}

	// Upgrading something that is not a WASM actor is refused.
	goActor, _ := v.rt.SpawnFunc(func(ctx *actor.Context, m *actor.Envelope) error { return ctx.Reply(0, nil) })
	if err := v.e.Upgrade(ctx, v.rt, goActor, v2); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("upgrade of a Go actor: %v", err)
	}
	if c := v.rt.Counters(); !c.Balanced() {
		t.Fatalf("conservation: %+v", c)
	}
}

// TestMessageLimits: an oversized message fails the actor with the message
// dead-lettered; Go values are refused the same way; replies over the
// limit are TOO_LARGE for the guest.
func TestMessageLimits(t *testing.T) {
	v := newEnv(t, wasm.NewConfig())
	ref := v.spawn(t, v.compile(t, "c-echo"), wasm.WithMaxMessage(1024))
	if out, _ := v.ask(t, ref, 1, make([]byte, 1024)); len(out) != 1024 {
		t.Fatalf("1024-byte echo: %d bytes", len(out))
	}
	if _, err := v.askErr(ref, 1, make([]byte, 1025)); !errors.Is(err, wasm.ErrTooLarge) {
		t.Fatalf("oversized message: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := v.rt.Ask(ctx, ref, 1, 42); !errors.Is(err, wasm.ErrNotWASM) {
		t.Fatalf("Go value: %v", err)
	}
	waitFor(t, "the actor to answer again", func() bool {
		r, err := v.askErr(ref, 1, []byte("ok"))
		return err == nil && string(r.Bytes()) == "ok"
	})
}

// TestTrustedMode: a trusted module runs the same protocol.
func TestTrustedMode(t *testing.T) {
	v := newEnv(t, wasm.NewConfig())
	for _, name := range []string{"c-echo", "go-echo"} {
		ref := v.spawn(t, v.compile(t, name, wasm.Trusted()))
		if out, _ := v.ask(t, ref, 1, []byte("trusted")); string(out) != "trusted" {
			t.Fatalf("%s: %q", name, out)
		}
	}
}

// TestThousandCGuests: 1,000 C-guest actors alive at once, each answering.
func TestThousandCGuests(t *testing.T) {
	v := newEnv(t, wasm.NewConfig())
	m := v.compile(t, "counter-c")
	refs := make([]actor.Ref, 1000)
	for i := range refs {
		refs[i] = v.spawn(t, m, wasm.WithInit(mp(t, i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(refs))
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := v.askErr(ref, 2, nil)
			if err != nil {
				errs <- err
				return
			}
			var got int64
			if err := msgpack.Unmarshal(r.Bytes(), &got); err != nil || got != int64(i) {
				errs <- errors.New("wrong total")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := v.e.Stats().Instances; n != 1000 {
		t.Fatalf("%d live instances, want 1000", n)
	}
}

// TestSandbox: by default a guest sees no files and no environment; spawn
// options grant read-only directories and named variables, nothing more.
func TestSandbox(t *testing.T) {
	v := newEnv(t, wasm.NewConfig())
	m := v.compile(t, "c-sandbox")
	t.Setenv("STARK_SANDBOX_SECRET", "host-only")
	t.Setenv("STARK_SANDBOX_GRANTED", "shared")

	closed := v.spawn(t, m)
	for _, path := range []string{"/etc/hostname", "/etc/passwd", "/", "."} {
		if out, _ := v.ask(t, closed, 1, []byte(path)); !strings.HasPrefix(string(out), "err:") {
			t.Fatalf("default sandbox read %s: %q", path, out)
		}
	}
	for _, name := range []string{"STARK_SANDBOX_SECRET", "PATH", "HOME"} {
		if out, _ := v.ask(t, closed, 3, []byte(name)); string(out) != "unset" {
			t.Fatalf("default sandbox sees %s=%q", name, out)
		}
	}

	dir := t.TempDir()
	if err := os.WriteFile(dir+"/hello.txt", []byte("hello, guest"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := v.spawn(t, m, wasm.WithReadOnlyDir(dir, "/data"),
		wasm.WithEnv("STARK_SANDBOX_GRANTED"), wasm.WithEnvValue("MODE", "test"))
	if out, _ := v.ask(t, open, 1, []byte("/data/hello.txt")); string(out) != "ok:hello, guest" {
		t.Fatalf("granted read: %q", out)
	}
	if out, _ := v.ask(t, open, 2, []byte("/data/new.txt")); !strings.HasPrefix(string(out), "err:") {
		t.Fatalf("write into a read-only dir: %q", out)
	}
	if _, err := os.Stat(dir + "/new.txt"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the guest created a file on the host: %v", err)
	}
	if out, _ := v.ask(t, open, 1, []byte("/etc/hostname")); !strings.HasPrefix(string(out), "err:") {
		t.Fatalf("read outside the granted dir: %q", out)
	}
	for name, want := range map[string]string{"STARK_SANDBOX_GRANTED": "shared", "MODE": "test", "STARK_SANDBOX_SECRET": "unset"} {
		if out, _ := v.ask(t, open, 3, []byte(name)); string(out) != want {
			t.Fatalf("granted env %s=%q, want %q", name, out, want)
		}
	}
}

// TestEngineCloseWhileActorsRun: closing the engine under running actors
// refuses new work but never pulls code from under a guest; the runtimes
// go when the last instance does.
func TestEngineCloseWhileActorsRun(t *testing.T) {
	v := newEnv(t, wasm.NewConfig())
	ctx := context.Background()
	m := v.compile(t, "c-echo")
	tm := v.compile(t, "c-echo", wasm.Trusted())
	refs := []actor.Ref{v.spawn(t, m), v.spawn(t, tm)}
	for _, ref := range refs {
		v.ask(t, ref, 1, []byte("warm"))
	}
	if err := v.e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.e.Compile(ctx, guestBytes(t, "counter-c")); !errors.Is(err, wasm.ErrClosed) {
		t.Fatalf("compile after close: %v", err)
	}
	if _, err := v.e.Spawn(v.rt, m); !errors.Is(err, wasm.ErrClosed) {
		t.Fatalf("spawn after close: %v", err)
	}
	// Running actors keep answering; a restart cannot get a new instance.
	for _, ref := range refs {
		if out, _ := v.ask(t, ref, 1, []byte("still here")); string(out) != "still here" {
			t.Fatalf("after close: %q", out)
		}
	}
	if _, err := v.askErr(refs[0], 13, nil); !errors.Is(err, wasm.ErrGuestStatus) {
		t.Fatalf("failure: %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := v.askErr(refs[0], 1, []byte("x")); err == nil {
		t.Fatal("an actor got a new instance from a closed engine")
	}
	for _, ref := range refs {
		_ = v.rt.Stop(ref)
	}
	waitFor(t, "every instance closed", func() bool { return v.e.Stats().Instances == 0 })
}

// TestCompileMutatedModules: random corruptions of a real module are
// refused with an error (or, if still valid, compile and run); the host
// never panics or crashes on them.
func TestCompileMutatedModules(t *testing.T) {
	v := newEnv(t, wasm.NewConfig().WithDeadline(100*time.Millisecond))
	ctx := context.Background()
	good := guestBytes(t, "c-echo")
	rng := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for i := range 300 {
		b := append([]byte(nil), good...)
		for range 1 + rng.IntN(4) {
			b[8+rng.IntN(len(b)-8)] = byte(rng.Uint32())
		}
		m, err := v.e.Compile(ctx, b, wasm.Named(fmt.Sprintf("mutant-%d", i)))
		if err != nil {
			if !errors.Is(err, wasm.ErrMalformed) && !errors.Is(err, wasm.ErrContract) &&
				!errors.Is(err, wasm.ErrTrap) && !errors.Is(err, wasm.ErrDeadline) {
				t.Fatalf("mutant %d: unexpected error kind: %v", i, err)
			}
			continue
		}
		accepted++
		ref, err := v.e.Spawn(v.rt, m)
		if err != nil {
			t.Fatalf("mutant %d compiled but cannot spawn: %v", i, err)
		}
		_, _ = v.askErr(ref, 1, []byte("still sane?")) // any answer or failure, no crash
		_ = v.rt.Kill(ref)
	}
	t.Logf("%d of 300 mutants still compiled", accepted)
	if out, _ := v.ask(t, v.spawn(t, v.compile(t, "c-echo")), 1, []byte("ok")); string(out) != "ok" {
		t.Fatalf("the engine is unwell after the mutants: %q", out)
	}
}

// TestEvict: an evicted module leaves the cache; its running actors keep
// going; new spawns fail; the same bytes compile again.
func TestEvict(t *testing.T) {
	v := newEnv(t, wasm.NewConfig())
	m := v.compile(t, "counter-c")
	if err := v.e.Register("counter", m); err != nil {
		t.Fatal(err)
	}
	ref := v.spawn(t, m)
	v.ask(t, ref, 1, mp(t, 3))
	before := v.e.Stats()
	if err := v.e.Evict(m); err != nil {
		t.Fatal(err)
	}
	if st := v.e.Stats(); st.Modules != before.Modules-1 {
		t.Fatalf("modules %d -> %d after evict", before.Modules, st.Modules)
	}
	if _, err := v.e.Lookup("counter"); !errors.Is(err, wasm.ErrUnknownModule) {
		t.Fatalf("evicted module still registered: %v", err)
	}
	if out, _ := v.ask(t, ref, 1, mp(t, 4)); unmp[int64](t, out) != 7 {
		t.Fatal("a running actor lost its module")
	}
	if _, err := v.e.Spawn(v.rt, m); !errors.Is(err, wasm.ErrClosed) {
		t.Fatalf("spawn of an evicted module: %v", err)
	}
	m2 := v.compile(t, "counter-c")
	if m2 == m {
		t.Fatal("compile after evict returned the evicted module")
	}
	if out, _ := v.ask(t, v.spawn(t, m2), 2, nil); unmp[int64](t, out) != 0 {
		t.Fatal("fresh module misbehaves")
	}
}
