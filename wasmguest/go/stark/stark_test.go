package stark

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

func TestStatusErrors(t *testing.T) {
	want := map[Status]error{
		StatusInvalid:     ErrInvalid,
		StatusNotFound:    ErrNotFound,
		StatusTimeout:     ErrTimeout,
		StatusFull:        ErrFull,
		StatusExhausted:   ErrExhausted,
		StatusStopped:     ErrStopped,
		StatusUnsupported: ErrUnsupported,
		StatusInternal:    ErrInternal,
		StatusDenied:      ErrDenied,
		StatusTooLarge:    ErrTooLarge,
	}
	// The contract's numbers.
	nums := map[Status]int32{StatusOK: 0, StatusInvalid: 1, StatusNotFound: 2, StatusTimeout: 3,
		StatusFull: 4, StatusExhausted: 5, StatusStopped: 6, StatusUnsupported: 7, StatusInternal: 8,
		StatusDenied: 9, StatusTooLarge: 10}
	for s, n := range nums {
		if int32(s) != n {
			t.Errorf("%v = %d, want %d", s, int32(s), n)
		}
	}
	if statusErr("send", 0) != nil || StatusOK.Err() != nil {
		t.Fatal("OK must be nil")
	}
	for s, sentinel := range want {
		err := statusErr("send", int32(s))
		if !errors.Is(err, sentinel) {
			t.Errorf("statusErr(%d) = %v, not Is %v", s, err, sentinel)
		}
		if s.Err() != sentinel {
			t.Errorf("%v.Err() = %v", s, s.Err())
		}
		if got := StatusOf(err); got != s {
			t.Errorf("StatusOf(%v) = %v, want %v", err, got, s)
		}
		if got := StatusOf(fmt.Errorf("wrapped: %w", err)); got != s {
			t.Errorf("StatusOf(wrapped %v) = %v", err, got)
		}
		for s2, other := range want {
			if s2 != s && errors.Is(err, other) {
				t.Errorf("%v Is %v", err, other)
			}
		}
	}
	err := statusErr("send", int32(StatusFull))
	if got := err.Error(); got != "stark: send: FULL (the target's mailbox is full)" {
		t.Errorf("Error() = %q", got)
	}
	if got := ErrNotFound.Error(); got != "stark: NOT_FOUND (stale or unknown ref, unknown name or timer)" {
		t.Errorf("sentinel Error() = %q", got)
	}
	unknown := statusErr("spawn", 42)
	if unknown.Error() != "stark: spawn: status 42" || StatusOf(unknown) != 42 {
		t.Errorf("unknown code: %v", unknown)
	}
	if statusErr("send", codeNotInGuest) != ErrNotInGuest || StatusOf(ErrNotInGuest) != StatusUnsupported {
		t.Error("ErrNotInGuest mapping")
	}
	if StatusOf(nil) != StatusOK || StatusOf(errors.New("x")) != StatusInternal {
		t.Error("StatusOf(nil / plain error)")
	}
}

func TestNotInGuest(t *testing.T) {
	if err := Send(1, 1, nil); err != ErrNotInGuest {
		t.Errorf("Send: %v", err)
	}
	if err := Reply(1, []byte("x")); err != ErrNotInGuest {
		t.Errorf("Reply: %v", err)
	}
	if _, err := Spawn("m", nil); err != ErrNotInGuest {
		t.Errorf("Spawn: %v", err)
	}
	if _, err := Lookup("n"); err != ErrNotInGuest {
		t.Errorf("Lookup: %v", err)
	}
	if _, err := After(1, 1, nil); err != ErrNotInGuest {
		t.Errorf("After: %v", err)
	}
	if _, err := Every(1, 1, nil); err != ErrNotInGuest {
		t.Errorf("Every: %v", err)
	}
	if err := Timer(3).Cancel(); err != ErrNotInGuest {
		t.Errorf("Cancel: %v", err)
	}
	if err := SendValue(1, 1, 5); err != ErrNotInGuest {
		t.Errorf("SendValue: %v", err)
	}
	if err := ReplyValue(1, []int{1}); err != ErrNotInGuest {
		t.Errorf("ReplyValue: %v", err)
	}
	if Self() != 0 || Sender() != 0 || Now().IsZero() {
		t.Error("Self/Sender/Now stand-ins")
	}
	if err := ReplyValue(1, make(chan int)); err == nil || err == ErrNotInGuest {
		t.Errorf("ReplyValue of an unencodable value: %v", err)
	}
}

func TestRefAndLevel(t *testing.T) {
	r := Ref(7<<32 | 3)
	if r.Slot() != 3 || r.Generation() != 7 || r.IsZero() || r.String() != "ref(3.7)" {
		t.Errorf("ref %v: slot %d gen %d", r, r.Slot(), r.Generation())
	}
	if Ref(0).String() != "ref(none)" || !Ref(0).IsZero() {
		t.Error("zero ref")
	}
	if LevelWarn.String() != "warn" || Level(9).String() != "level 9" || int32(LevelError) != 3 {
		t.Error("levels")
	}
	if Timer(5).ID() != 5 {
		t.Error("timer id")
	}
}

func TestDecodeInfo(t *testing.T) {
	var b [infoSize]byte
	binary.LittleEndian.PutUint32(b[0:], 0xdeadbeef)
	binary.LittleEndian.PutUint32(b[4:], 0x10000)
	binary.LittleEndian.PutUint32(b[8:], 1024)
	got := decodeInfo(&b)
	if got != (msgInfo{tag: 0xdeadbeef, ptr: 0x10000, len: 1024}) {
		t.Errorf("decodeInfo = %+v", got)
	}
}

func TestMsgpackHelpers(t *testing.T) {
	// Integers use their smallest form, as hosts in other languages write them.
	for _, c := range []struct {
		v    any
		want []byte
	}{
		{int64(1), []byte{0x01}},
		{uint64(300), []byte{0xcd, 0x01, 0x2c}},
		{int64(-1), []byte{0xff}},
		{[]byte{1, 2}, []byte{0xc4, 0x02, 1, 2}},
		{"hi", []byte{0xa2, 'h', 'i'}},
	} {
		b, err := Marshal(c.v)
		if err != nil || !bytes.Equal(b, c.want) {
			t.Errorf("Marshal(%#v) = %x, %v; want %x", c.v, b, err, c.want)
		}
	}
	type pair struct {
		_msgpack struct{} `msgpack:",as_array"`
		ID       uint64
		Data     []byte
	}
	in := pair{ID: 41, Data: bytes.Repeat([]byte{7}, 1024)}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0x92 || b[1] != 41 || b[2] != 0xc5 {
		t.Fatalf("as_array encoding starts %x", b[:3])
	}
	var out pair
	if err := Unmarshal(b, &out); err != nil || out.ID != 41 || !bytes.Equal(out.Data, in.Data) {
		t.Fatalf("round trip: %+v %v", out.ID, err)
	}
	// Decoded bytes never alias the input.
	b[len(b)-1] = 0
	if out.Data[1023] != 7 {
		t.Error("decoded []byte aliases the input")
	}
	n, err := Decode[int64]([]byte{0xcd, 0x01, 0x2c})
	if err != nil || n != 300 {
		t.Errorf("Decode = %d, %v", n, err)
	}
	// A hostile length is refused before anything is allocated.
	if err := Unmarshal([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}, &[]int{}); err == nil {
		t.Error("array of 4G elements accepted")
	}
	if _, err := Decode[int64]([]byte{0x01, 0x02}); err == nil {
		t.Error("trailing bytes accepted")
	}
	appended, err := AppendMarshal([]byte{0xaa}, 5)
	if err != nil || !bytes.Equal(appended, []byte{0xaa, 5}) {
		t.Errorf("AppendMarshal = %x, %v", appended, err)
	}
}

func TestAllocRegions(t *testing.T) {
	before := len(regions)
	a := allocRegion(100)
	z := allocRegion(0)
	if a == 0 || z == 0 || a == z {
		t.Fatalf("alloc: %x %x", a, z)
	}
	if len(regions) != before+2 || len(regions[a]) != 100 || len(regions[z]) != 1 {
		t.Fatalf("table: %d regions", len(regions))
	}
	if uintptr(unsafe.Pointer(&regions[a][0])) != a {
		t.Error("region address")
	}
	freeRegion(a)
	freeRegion(a) // twice: ignored
	freeRegion(12345)
	freeRegion(z)
	if len(regions) != before {
		t.Fatalf("after free: %d regions", len(regions))
	}
}

// fakeHost records what the exports ask of the host and queues messages for
// next.
type fakeHost struct {
	queue  []Message
	nexts  int
	fails  []string
	saved  []byte
	saveRC int32
	logs   []string
}

func (h *fakeHost) next() (Message, bool) {
	h.nexts++
	if len(h.queue) == 0 {
		return Message{}, false
	}
	m := h.queue[0]
	h.queue = h.queue[1:]
	return m, true
}
func (h *fakeHost) fail(reason string) { h.fails = append(h.fails, reason) }
func (h *fakeHost) save(b []byte) int32 {
	h.saved = append(h.saved, b...)
	return h.saveRC
}
func (h *fakeHost) log(l Level, msg string) { h.logs = append(h.logs, l.String()+": "+msg) }

// withHooks unregisters every hook when the test ends.
func withHooks(t *testing.T) {
	t.Cleanup(func() {
		Handle(nil)
		OnInit(nil)
		OnStop(nil)
		OnSnapshot(nil)
		OnRestore(nil)
	})
}

func TestHandleBatches(t *testing.T) {
	withHooks(t)
	var seen []uint32
	Handle(func(m Message) error {
		seen = append(seen, m.Tag)
		if m.Tag == 99 {
			return errors.New("bad tag 99")
		}
		return nil
	})
	h := &fakeHost{queue: []Message{{Tag: 2}, {Tag: 3}}}
	if st := doHandle(h, Message{Tag: 1}); st != 0 {
		t.Fatalf("status %d, fails %q", st, h.fails)
	}
	if fmt.Sprint(seen) != "[1 2 3]" || h.nexts != 3 || len(h.fails) != 0 {
		t.Fatalf("seen %v, nexts %d", seen, h.nexts)
	}

	// A failure stops the batch: no next after it.
	seen = nil
	h = &fakeHost{queue: []Message{{Tag: 99}, {Tag: 4}}}
	if st := doHandle(h, Message{Tag: 1}); st != int32(StatusInternal) {
		t.Fatalf("status %d", st)
	}
	if fmt.Sprint(seen) != "[1 99]" || h.nexts != 1 || len(h.queue) != 1 {
		t.Fatalf("seen %v, nexts %d", seen, h.nexts)
	}
	if len(h.fails) != 1 || h.fails[0] != "bad tag 99" {
		t.Fatalf("fails %q", h.fails)
	}
}

func TestHandlePanics(t *testing.T) {
	withHooks(t)
	Handle(func(m Message) error {
		switch m.Tag {
		case 1:
			panic("guest panicked on purpose")
		case 2:
			var s []int
			_ = s[m.Tag] // runtime error
		case 3:
			panic(fmt.Errorf("an error value"))
		}
		return nil
	})
	for tag, want := range map[uint32]string{
		1: "panic: guest panicked on purpose",
		2: "panic: runtime error: index out of range [2] with length 0",
		3: "panic: an error value",
	} {
		h := &fakeHost{queue: []Message{{Tag: 5}}}
		if st := doHandle(h, Message{Tag: tag}); st != 8 {
			t.Fatalf("tag %d: status %d", tag, st)
		}
		if len(h.fails) != 1 || !strings.HasPrefix(h.fails[0], want) || h.nexts != 0 {
			t.Errorf("tag %d: fails %q, nexts %d", tag, h.fails, h.nexts)
		}
	}
	// A panic in a later message of the batch is caught too.
	h := &fakeHost{queue: []Message{{Tag: 5}, {Tag: 1}, {Tag: 5}}}
	if st := doHandle(h, Message{Tag: 5}); st != 8 || h.nexts != 2 || len(h.queue) != 1 {
		t.Fatalf("status %d nexts %d", st, h.nexts)
	}
}

func TestNoHandler(t *testing.T) {
	withHooks(t)
	h := &fakeHost{}
	if st := doHandle(h, Message{Tag: 1}); st != 8 || len(h.fails) != 1 || !strings.Contains(h.fails[0], "stark.Handle") {
		t.Fatalf("status %d fails %q", st, h.fails)
	}
}

func TestOptionalHooksAbsent(t *testing.T) {
	withHooks(t)
	h := &fakeHost{}
	if st := doInit(h, []byte{1, 2}); st != 0 {
		t.Errorf("init: %d", st)
	}
	if st := doSnapshot(h); st != 0 || h.saved != nil {
		t.Errorf("snapshot: %d saved %x", st, h.saved)
	}
	if st := doRestore(h, []byte{1, 2, 3}); st != 0 {
		t.Errorf("restore: %d", st)
	}
	if len(h.logs) != 1 || !strings.HasPrefix(h.logs[0], "warn: stark: 3 bytes of saved state dropped") {
		t.Errorf("logs %q", h.logs)
	}
	doStop(h)
	if len(h.fails) != 0 {
		t.Errorf("fails %q", h.fails)
	}
}

func TestHooks(t *testing.T) {
	withHooks(t)
	var initArgs, restored []byte
	stopped := false
	OnInit(func(a []byte) error {
		initArgs = bytes.Clone(a)
		if len(a) == 0 {
			return errors.New("init needs args")
		}
		return nil
	})
	OnSnapshot(func() ([]byte, error) { return []byte("state"), nil })
	OnRestore(func(s []byte) error { restored = bytes.Clone(s); return nil })
	OnStop(func() { stopped = true })

	h := &fakeHost{}
	if st := doInit(h, []byte{9}); st != 0 || !bytes.Equal(initArgs, []byte{9}) {
		t.Errorf("init %d %x", st, initArgs)
	}
	if st := doInit(h, nil); st != 8 || h.fails[0] != "init needs args" {
		t.Errorf("init error: %d %q", st, h.fails)
	}
	h = &fakeHost{}
	if st := doSnapshot(h); st != 0 || string(h.saved) != "state" {
		t.Errorf("snapshot %d %q", st, h.saved)
	}
	h = &fakeHost{saveRC: int32(StatusTooLarge)}
	if st := doSnapshot(h); st != 8 || !strings.Contains(h.fails[0], "TOO_LARGE") {
		t.Errorf("snapshot refused: %d %q", st, h.fails)
	}
	h = &fakeHost{}
	if st := doRestore(h, []byte("old")); st != 0 || string(restored) != "old" {
		t.Errorf("restore %d %q", st, restored)
	}
	doStop(h)
	if !stopped {
		t.Error("stop hook not called")
	}

	OnStop(func() { panic("stop panic") })
	OnSnapshot(func() ([]byte, error) { panic("snap panic") })
	OnRestore(func([]byte) error { return errors.New("bad state") })
	h = &fakeHost{}
	doStop(h)
	if len(h.fails) != 1 || !strings.HasPrefix(h.fails[0], "panic: stop panic") || len(h.logs) != 1 {
		t.Errorf("stop panic: %q %q", h.fails, h.logs)
	}
	h = &fakeHost{}
	if st := doSnapshot(h); st != 8 || !strings.HasPrefix(h.fails[0], "panic: snap panic") {
		t.Errorf("snapshot panic: %d %q", st, h.fails)
	}
	h = &fakeHost{}
	if st := doRestore(h, nil); st != 8 || h.fails[0] != "bad state" {
		t.Errorf("restore error: %d %q", st, h.fails)
	}
}

// The stack in a reason leaves out the SDK's frames, and this test's
// functions are in package stark, so it checks the shape only; the guests'
// end-to-end check looks at a real guest's stack.
func TestPanicReasonShape(t *testing.T) {
	var reason string
	func() {
		defer func() { reason = panicReason(recover()) }()
		panic(42)
	}()
	if !strings.HasPrefix(reason, "panic: 42") {
		t.Errorf("reason %q", reason)
	}
	if n := strings.Count(reason, "\n\t"); n > maxStackFrames {
		t.Errorf("%d frames, want at most %d", n, maxStackFrames)
	}
}
