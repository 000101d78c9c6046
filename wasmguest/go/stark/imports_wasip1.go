//go:build wasip1

package stark

import "unsafe"

// The imports of module "stark", exactly as docs/wasm-abi.md declares them.
// Pointers are passed as *byte (an i32 offset into linear memory); the Go
// compiler keeps the pointees alive and unmoved for the duration of each
// call, and the host copies what it keeps, so no pointer escapes (the
// imports are go:noescape, and a caller's stack buffer stays on the stack).

//go:wasmimport stark send
//go:noescape
func starkSend(to uint64, tag uint32, ptr *byte, n uint32) int32

//go:wasmimport stark reply
//go:noescape
func starkReply(tag uint32, ptr *byte, n uint32) int32

//go:wasmimport stark self
func starkSelf() uint64

//go:wasmimport stark sender
func starkSender() uint64

//go:wasmimport stark log
//go:noescape
func starkLog(level int32, ptr *byte, n uint32)

//go:wasmimport stark now
func starkNow() int64

//go:wasmimport stark set_timer
//go:noescape
func starkSetTimer(delayNs int64, tag uint32, ptr *byte, n uint32, repeat uint32, idOut *uint64) int32

//go:wasmimport stark cancel_timer
func starkCancelTimer(id uint64) int32

//go:wasmimport stark spawn
//go:noescape
func starkSpawn(namePtr *byte, nameLen uint32, initPtr *byte, initLen uint32, refOut *uint64) int32

//go:wasmimport stark lookup
//go:noescape
func starkLookup(namePtr *byte, nameLen uint32, refOut *uint64) int32

//go:wasmimport stark fail
//go:noescape
func starkFail(ptr *byte, n uint32)

//go:wasmimport stark next
//go:noescape
func starkNext(infoOut *[infoSize]byte) int32

//go:wasmimport stark save
//go:noescape
func starkSave(ptr *byte, n uint32) int32

// bytesPtr returns the address and length of b for an import; nil for an
// empty b, so that no import sees a pointer past the end of an allocation.
func bytesPtr(b []byte) (*byte, uint32) {
	if len(b) == 0 {
		return nil, 0
	}
	return unsafe.SliceData(b), uint32(len(b))
}

// stringPtr is bytesPtr for a string.
func stringPtr(s string) (*byte, uint32) {
	if len(s) == 0 {
		return nil, 0
	}
	return unsafe.StringData(s), uint32(len(s))
}

func hostSend(to uint64, tag uint32, data []byte) int32 {
	p, n := bytesPtr(data)
	return starkSend(to, tag, p, n)
}

func hostReply(tag uint32, data []byte) int32 {
	p, n := bytesPtr(data)
	return starkReply(tag, p, n)
}

func hostSelf() uint64   { return starkSelf() }
func hostSender() uint64 { return starkSender() }
func hostNow() int64     { return starkNow() }

func hostLog(level int32, msg string) {
	p, n := stringPtr(msg)
	starkLog(level, p, n)
}

func hostSetTimer(delay int64, tag uint32, data []byte, repeat bool) (uint64, int32) {
	p, n := bytesPtr(data)
	var r uint32
	if repeat {
		r = 1
	}
	var id uint64
	code := starkSetTimer(delay, tag, p, n, r, &id)
	return id, code
}

func hostCancelTimer(id uint64) int32 { return starkCancelTimer(id) }

func hostSpawn(module string, init []byte) (uint64, int32) {
	np, nn := stringPtr(module)
	ip, in := bytesPtr(init)
	var ref uint64
	code := starkSpawn(np, nn, ip, in, &ref)
	return ref, code
}

func hostLookup(name string) (uint64, int32) {
	np, nn := stringPtr(name)
	var ref uint64
	code := starkLookup(np, nn, &ref)
	return ref, code
}

// wasmHost is the exportHost of a real guest: the stark imports.
type wasmHost struct{}

func (wasmHost) next() (Message, bool) {
	var info [infoSize]byte
	if starkNext(&info) == 0 {
		return Message{}, false
	}
	mi := decodeInfo(&info)
	return Message{Tag: mi.tag, Data: view(mi.ptr, mi.len)}, true
}

func (wasmHost) fail(reason string) {
	p, n := stringPtr(reason)
	starkFail(p, n)
}

func (wasmHost) save(state []byte) int32 {
	p, n := bytesPtr(state)
	return starkSave(p, n)
}

func (wasmHost) log(level Level, msg string) { hostLog(int32(level), msg) }

// view returns the n bytes the host wrote at guest address ptr as a slice,
// without copying (unsafe.Slice over linear memory). The host writes
// payloads into regions from stark_alloc, which the SDK keeps reachable, so
// the slice points into a live Go allocation; it is only valid during the
// export call (or until the next call of next) that received ptr.
func view(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), uintptr(ptr))), n)
}
