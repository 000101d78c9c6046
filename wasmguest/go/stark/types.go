package stark

import (
	"encoding/binary"
	"strconv"
)

// Ref names an actor: the host's 64-bit ref, with the slot in the low 32
// bits and the generation in the high 32. The zero Ref names nobody. A ref
// stays valid for the life of the actor it names and never names a later
// actor in the same slot; sending to a stale ref returns ErrNotFound. Refs
// are plain numbers: put them in messages (as 8 bytes little-endian, or as
// a msgpack integer) to tell other actors whom to talk to.
type Ref uint64

// Slot returns the slot half of the ref (the low 32 bits). Cost: none.
func (r Ref) Slot() uint32 { return uint32(r) }

// Generation returns the generation half of the ref (the high 32 bits).
// Cost: none.
func (r Ref) Generation() uint32 { return uint32(r >> 32) }

// IsZero reports whether r names nobody. Cost: none.
func (r Ref) IsZero() bool { return r == 0 }

// String formats the ref as "ref(slot.generation)", or "ref(none)" for the
// zero Ref. Cost: builds the string.
func (r Ref) String() string {
	if r == 0 {
		return "ref(none)"
	}
	return "ref(" + strconv.FormatUint(uint64(r.Slot()), 10) + "." +
		strconv.FormatUint(uint64(r.Generation()), 10) + ")"
}

// Message is one message handed to the handler registered with Handle: its
// tag and payload.
//
// Data is a view of the host-written bytes in the guest's memory, made
// without copying. It is valid only during the handler call that received
// it: the host reuses the region for the next message once the handler
// returns. A handler that keeps the payload (or any sub-slice of it) past
// its return must copy it first, e.g. with bytes.Clone. Decoding with
// Unmarshal copies what it decodes, so decoded values may be kept.
type Message struct {
	Tag  uint32
	Data []byte
}

// Level is the severity of a line written with Log; the numbers are the
// contract's.
type Level int32

// Log levels.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// String returns "debug", "info", "warn", "error", or "level N". Cost: none
// for the four levels.
func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "level " + strconv.Itoa(int(l))
}

// Timer is a timer started with After or Every: the host's timer id. It is
// a plain number; keep it to cancel the timer later.
type Timer uint64

// ID returns the host's id of the timer. Cost: none.
func (t Timer) ID() uint64 { return uint64(t) }

// msgInfo is what the next import writes at info_out: three little-endian
// u32 (tag, ptr, len) describing the next message in guest memory.
type msgInfo struct {
	tag, ptr, len uint32
}

// infoSize is the size of the info struct that next writes.
const infoSize = 12

// decodeInfo reads the info struct that next wrote, as little-endian bytes.
// Cost: none.
func decodeInfo(b *[infoSize]byte) msgInfo {
	return msgInfo{
		tag: binary.LittleEndian.Uint32(b[0:4]),
		ptr: binary.LittleEndian.Uint32(b[4:8]),
		len: binary.LittleEndian.Uint32(b[8:12]),
	}
}
