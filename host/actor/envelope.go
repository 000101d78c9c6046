package actor

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/stark-rt/stark/host/mem"
)

// Ref names an actor: the low 32 bits are a slot in the actor table, the
// high 32 bits the slot's generation. A ref to a stopped actor stays stale
// forever, even after its slot is reused. The zero Ref names no actor.
type Ref uint64

// Slot returns the table slot of r.
func (r Ref) Slot() uint32 { return uint32(r) }

// Gen returns the generation of r.
func (r Ref) Gen() uint32 { return uint32(r >> 32) }

// IsZero reports whether r names no actor.
func (r Ref) IsZero() bool { return r == 0 }

// String formats r as "<slot.gen>".
func (r Ref) String() string {
	if r == 0 {
		return "<nobody>"
	}
	return "<" + strconv.FormatUint(uint64(r.Slot()), 10) + "." + strconv.FormatUint(uint64(r.Gen()), 10) + ">"
}

func makeRef(slot, gen uint32) Ref { return Ref(uint64(gen)<<32 | uint64(slot)) }

// Tags at or above TagSystem are reserved for messages the runtime itself delivers.
const (
	TagSystem uint32 = 0xFFFF_FF00
	// TagTerminated: a watched actor terminated; Value holds a Terminated.
	TagTerminated uint32 = 0xFFFF_FF01
)

// Terminated is delivered (tag TagTerminated) to every watcher of an actor when it terminates.
type Terminated struct {
	Actor Ref
	// Reason is nil for a normal stop, else why the actor ended.
	Reason error
}

// Envelope is one message. Exactly one of Data, Buf and Value is usually set.
//
// The host never decodes a payload: Data is opaque bytes (msgpack by
// convention across languages), Buf a pooled buffer whose reference moves
// with the message (zero copy; the runtime releases it after the handler
// returns unless the handler calls TakeBuffer), and Value an arbitrary Go
// value for Go-to-Go messages that never cross the C ABI.
type Envelope struct {
	Target Ref
	Sender Ref
	// CorrID links a request to its reply (0 when none).
	CorrID uint64
	Tag    uint32
	// replyGen is the generation of reply this message was asked with
	// (it fills the padding after Tag).
	replyGen uint32
	Data     []byte
	Buf      *mem.Buffer
	Value    any

	reply *future // pending Ask waiting for the answer to this message
}

// TakeBuffer moves the message's pooled buffer to the caller, who must
// release it (or send it on). Without it, the runtime releases the buffer
// when the handler returns.
func (e *Envelope) TakeBuffer() *mem.Buffer {
	b := e.Buf
	e.Buf = nil
	return b
}

// Bytes returns the payload as bytes: Data, or the contents of Buf.
func (e *Envelope) Bytes() []byte {
	if e.Data != nil {
		return e.Data
	}
	if e.Buf != nil {
		return e.Buf.Bytes()
	}
	if b, ok := e.Value.([]byte); ok {
		return b
	}
	return nil
}

// IsAsk reports whether a caller is waiting on a reply to this message.
func (e *Envelope) IsAsk() bool { return e.reply != nil }

func (e *Envelope) String() string {
	return fmt.Sprintf("msg{tag=%#x to=%v from=%v corr=%d}", e.Tag, e.Target, e.Sender, e.CorrID)
}

// setPayload stores a payload given as any: []byte goes to Data,
// *mem.Buffer to Buf, anything else to Value.
func (e *Envelope) setPayload(p any) {
	switch v := p.(type) {
	case nil:
	case []byte:
		e.Data = v
	case *mem.Buffer:
		e.Buf = v
	default:
		e.Value = v
	}
}

// releasePayload gives back a buffer (or an owning value) the message
// still owns.
func (e *Envelope) releasePayload() {
	if e.Buf != nil {
		_ = e.Buf.Release()
		e.Buf = nil
	}
	if r, ok := e.Value.(Releaser); ok {
		_ = r.Release()
		e.Value = nil
	}
}

// Releaser is implemented by message values that own a resource, such as
// a device buffer (device.Buffer). Like a pooled buffer, such a value
// moves with its message: the runtime releases it when the message is
// dead-lettered, or when the handler returns without taking it
// (TakeValue) or sending it on.
type Releaser interface {
	Release() error
}

// TakeValue moves the message's value to the caller: an owning value
// (Releaser) is then the caller's to release or send on.
func (e *Envelope) TakeValue() any {
	v := e.Value
	e.Value = nil
	return v
}

// samePointer reports whether a and b are the same pointer (false for
// anything that is not a pointer, so uncomparable values never panic).
func samePointer(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Kind() == reflect.Pointer && vb.Kind() == reflect.Pointer && va.Type() == vb.Type() && va.Pointer() == vb.Pointer()
}
