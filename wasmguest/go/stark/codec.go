package stark

import (
	"sync"

	"github.com/stark-rt/stark/host/codec"
)

// The msgpack helpers use the same codec as STARK's Go host (host/codec,
// over github.com/vmihailenco/msgpack/v5), so a guest's bytes read the same
// way in every language STARK serves: integers in their smallest msgpack
// form, []byte as bin, string as str, structs as maps keyed by field name
// (or as arrays, when the struct has a field `_msgpack struct{}` tagged
// `msgpack:",as_array"`).

// Marshal returns the msgpack encoding of v. Cost: the encoding plus one
// allocation for the result (the encoder is pooled). Use SendValue or
// ReplyValue to encode and send without keeping the bytes.
func Marshal(v any) ([]byte, error) { return codec.Marshal(v) }

// AppendMarshal appends the msgpack encoding of v to dst and returns the
// extended slice; reusing dst across calls makes it allocation-free apart
// from what the encoder needs for the value. On error it returns dst.
// Cost: the encoding, plus growing dst when it is too small.
func AppendMarshal(dst []byte, v any) ([]byte, error) { return codec.AppendMarshal(dst, v) }

// Unmarshal decodes the msgpack value in data into v, a non-nil pointer.
// The input is checked first (exactly one well-formed value, bounded
// nesting, no length larger than the bytes left), so a hostile payload
// returns an error instead of making the guest allocate without bound and
// abort. Nothing decoded aliases data, so it is safe to keep decoded values
// after the handler returns. Cost: one validation pass, then the decoding.
func Unmarshal(data []byte, v any) error { return codec.Unmarshal(data, v) }

// Decode decodes data into a new value of type T, as Unmarshal does; on
// error it returns T's zero value. Cost: Unmarshal's.
func Decode[T any](data []byte) (T, error) { return codec.Decode[T](data) }

// scratch holds encode buffers for SendValue and ReplyValue: the host copies
// what it is sent, so the buffer is free again when the call returns.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// maxScratch is the largest buffer kept for reuse; one huge value does not
// pin its size.
const maxScratch = 64 << 10

// encodeAndCall encodes v into a pooled buffer, passes the bytes to call,
// and keeps the buffer for the next call.
func encodeAndCall(v any, call func([]byte) error) error {
	bp := scratch.Get().(*[]byte)
	b, err := codec.AppendMarshal((*bp)[:0], v)
	if err == nil {
		err = call(b)
	}
	if cap(b) <= maxScratch {
		*bp = b[:0]
		scratch.Put(bp)
	}
	return err
}

// SendValue encodes v as msgpack and sends it to to with tag, like Send.
// Cost: the encoding into a reused buffer (no allocation of the SDK's own)
// and Send's host call.
func SendValue(to Ref, tag uint32, v any) error {
	return encodeAndCall(v, func(b []byte) error { return Send(to, tag, b) })
}

// ReplyValue encodes v as msgpack and replies with it, like Reply. Cost: the
// encoding into a reused buffer and Reply's host call.
func ReplyValue(tag uint32, v any) error {
	return encodeAndCall(v, func(b []byte) error { return Reply(tag, b) })
}
