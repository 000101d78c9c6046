package wasm

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/stark-rt/stark/host/actor"
)

const hostModule = "stark"

// hostFunc is one import of the "stark" module.
type hostFunc struct {
	sig signature
	fn  func(in *instance, stack []uint64)
}

// hostFuncs is the "stark" host module (docs/wasm-abi.md). Each function
// finds its instance through the call's context, checks every pointer the
// guest passes (a bad one traps the guest, never the host) and returns a
// status.
var hostFuncs = map[string]hostFunc{
	"send":         {sig(types(i64, i32, i32, i32), i32), hostSend},
	"reply":        {sig(types(i32, i32, i32), i32), hostReply},
	"self":         {sig(nil, i64), hostSelf},
	"sender":       {sig(nil, i64), hostSender},
	"log":          {sig(types(i32, i32, i32)), hostLog},
	"now":          {sig(nil, i64), hostNow},
	"set_timer":    {sig(types(i64, i32, i32, i32, i32, i32), i32), hostSetTimer},
	"cancel_timer": {sig(types(i64), i32), hostCancelTimer},
	"spawn":        {sig(types(i32, i32, i32, i32, i32), i32), hostSpawn},
	"lookup":       {sig(types(i32, i32, i32), i32), hostLookup},
	"fail":         {sig(types(i32, i32)), hostFail},
	"next":         {sig(types(i32), i32), hostNext},
	"save":         {sig(types(i32, i32), i32), hostSave},
}

var importSigs = func() map[string]signature {
	m := make(map[string]signature, len(hostFuncs))
	for name, f := range hostFuncs {
		m[name] = f.sig
	}
	return m
}()

func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(hostModule)
	for name, f := range hostFuncs {
		fn := f.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
				fn(instanceOf(ctx), stack)
			}), f.sig.params, f.sig.results).
			Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// guestFault makes the running call trap with a reason naming the import.
func (in *instance) guestFault(format string, args ...any) {
	in.fault = fmt.Sprintf(format, args...)
	panic(in.fault)
}

// view returns the guest's bytes at ptr..ptr+n, trapping the guest when
// they are outside its memory. The view is valid until the guest runs again.
func (in *instance) view(imp string, ptr, n uint32) []byte {
	b, ok := in.mem.Read(ptr, n)
	if !ok {
		in.guestFault("stark.%s: pointer %#x and length %d lie outside the guest's memory (%d bytes)", imp, ptr, n, in.mem.Size())
	}
	return b
}

// payload copies a message body out of the guest (the guest keeps its memory).
func (in *instance) payload(imp string, ptr, n uint32) ([]byte, Status) {
	if int64(n) > int64(in.lim.maxMessage) {
		in.view(imp, ptr, n) // a bad pointer still traps
		return nil, StatusTooLarge
	}
	if n == 0 {
		return nil, StatusOK
	}
	return append([]byte(nil), in.view(imp, ptr, n)...), StatusOK
}

func (in *instance) writeU64(imp string, ptr uint32, v uint64) {
	if !in.mem.WriteUint64Le(ptr, v) {
		in.guestFault("stark.%s: output pointer %#x lies outside the guest's memory", imp, ptr)
	}
}

func result(stack []uint64, s Status) { stack[0] = uint64(uint32(int32(s))) }

func hostSend(in *instance, stack []uint64) {
	to, tag := actor.Ref(stack[0]), uint32(stack[1])
	data, st := in.payload("send", uint32(stack[2]), uint32(stack[3]))
	if st != StatusOK {
		result(stack, st)
		return
	}
	ctx := in.actx
	if ctx == nil {
		result(stack, StatusUnsupported)
		return
	}
	result(stack, StatusOf(ctx.SendBytes(to, tag, data)))
}

func hostReply(in *instance, stack []uint64) {
	tag := uint32(stack[0])
	data, st := in.payload("reply", uint32(stack[1]), uint32(stack[2]))
	if st != StatusOK {
		result(stack, st)
		return
	}
	ctx := in.actx
	if ctx == nil || ctx.Message() == nil {
		result(stack, StatusNotFound)
		return
	}
	result(stack, StatusOf(ctx.ReplyBytes(tag, data)))
}

func hostSelf(in *instance, stack []uint64) {
	if in.owner != nil {
		stack[0] = uint64(in.owner.self)
		return
	}
	stack[0] = 0
}

func hostSender(in *instance, stack []uint64) {
	if ctx := in.actx; ctx != nil {
		stack[0] = uint64(ctx.Sender())
		return
	}
	stack[0] = 0
}

const maxLogLine = 4096

func hostLog(in *instance, stack []uint64) {
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	b := in.view("log", ptr, n)
	if len(b) > maxLogLine {
		b = b[:maxLogLine]
	}
	var lv slog.Level
	switch level {
	case 0:
		lv = slog.LevelDebug
	case 1:
		lv = slog.LevelInfo
	case 2:
		lv = slog.LevelWarn
	default:
		lv = slog.LevelError
	}
	self := actor.Ref(0)
	if in.owner != nil {
		self = in.owner.self
	}
	in.m.engine.log.Log(context.Background(), lv, string(b), "actor", self.String(), "module", in.m.name)
}

func hostNow(in *instance, stack []uint64) {
	if ctx := in.actx; ctx != nil {
		stack[0] = uint64(ctx.Now().UnixNano())
		return
	}
	stack[0] = uint64(time.Now().UnixNano())
}

func hostSetTimer(in *instance, stack []uint64) {
	delay, tag, repeat, idOut := int64(stack[0]), uint32(stack[1]), uint32(stack[4]), uint32(stack[5])
	in.view("set_timer", idOut, 8)
	data, st := in.payload("set_timer", uint32(stack[2]), uint32(stack[3]))
	switch {
	case st != StatusOK:
	case delay < 0 || (repeat != 0 && delay == 0) || repeat > 1:
		st = StatusInvalid
	case in.actx == nil || in.owner == nil:
		st = StatusUnsupported
	default:
		var id uint64
		id, st = in.owner.setTimer(in.actx, time.Duration(delay), tag, data, repeat == 1)
		if st == StatusOK {
			in.writeU64("set_timer", idOut, id)
		}
	}
	result(stack, st)
}

func hostCancelTimer(in *instance, stack []uint64) {
	if in.owner == nil {
		result(stack, StatusNotFound)
		return
	}
	result(stack, in.owner.cancelTimer(stack[0]))
}

const maxName = 1024

func (in *instance) name(imp string, ptr, n uint32) (string, Status) {
	b := in.view(imp, ptr, n)
	if n == 0 || n > maxName {
		return "", StatusInvalid
	}
	return string(b), StatusOK
}

func hostSpawn(in *instance, stack []uint64) {
	refOut := uint32(stack[4])
	in.view("spawn", refOut, 8)
	name, st := in.name("spawn", uint32(stack[0]), uint32(stack[1]))
	if st != StatusOK {
		result(stack, st)
		return
	}
	args, st := in.payload("spawn", uint32(stack[2]), uint32(stack[3]))
	if st != StatusOK {
		result(stack, st)
		return
	}
	ctx := in.actx
	if ctx == nil || in.owner == nil {
		result(stack, StatusUnsupported)
		return
	}
	ref, err := in.owner.spawnChild(ctx, name, args)
	if err == nil {
		in.writeU64("spawn", refOut, uint64(ref))
	}
	result(stack, StatusOf(err))
}

func hostLookup(in *instance, stack []uint64) {
	refOut := uint32(stack[2])
	in.view("lookup", refOut, 8)
	name, st := in.name("lookup", uint32(stack[0]), uint32(stack[1]))
	if st != StatusOK {
		result(stack, st)
		return
	}
	ctx := in.actx
	if ctx == nil {
		result(stack, StatusUnsupported)
		return
	}
	ref, err := ctx.System().Lookup(name)
	if err == nil {
		in.writeU64("lookup", refOut, uint64(ref))
	}
	result(stack, StatusOf(err))
}

const maxReason = 4096

func hostFail(in *instance, stack []uint64) {
	b := in.view("fail", uint32(stack[0]), uint32(stack[1]))
	if len(b) > maxReason {
		b = b[:maxReason]
	}
	in.reason = string(b)
}

// hostNext hands the guest the next queued message of this turn (batching).
func hostNext(in *instance, stack []uint64) {
	info := uint32(stack[0])
	in.view("next", info, 12)
	ctx := in.actx
	if ctx == nil || ctx.Message() == nil || in.pending != nil {
		stack[0] = 0
		return
	}
	env := ctx.Next()
	if env == nil {
		stack[0] = 0
		return
	}
	data, ok := guestPayload(env)
	if !ok || len(data) > in.lim.maxMessage {
		// Not something the guest can take in this call (an upgrade, a Go
		// value, an oversized message): the host deals with it after the
		// guest returns.
		in.pending = env
		stack[0] = 0
		return
	}
	ptr, err := in.place(data)
	if err != nil { // the guest's stark_alloc failed: the call fails with it
		in.guestFault("stark.next: %v", err)
	}
	if in.timer != nil { // a fresh deadline for each message
		in.timer.Reset(in.lim.deadline)
	}
	in.reason = ""
	in.mem.WriteUint32Le(info, env.Tag)
	in.mem.WriteUint32Le(info+4, ptr)
	in.mem.WriteUint32Le(info+8, uint32(len(data)))
	stack[0] = 1
}

func hostSave(in *instance, stack []uint64) {
	b := in.view("save", uint32(stack[0]), uint32(stack[1]))
	if !in.saving {
		result(stack, StatusUnsupported)
		return
	}
	if uint64(len(in.saved))+uint64(len(b)) > uint64(in.lim.memoryPages)<<16 {
		result(stack, StatusTooLarge)
		return
	}
	in.saved = append(in.saved, b...)
	result(stack, StatusOK)
}
