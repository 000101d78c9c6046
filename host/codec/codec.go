package codec

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/stark-rt/stark/host/mem"
	"github.com/vmihailenco/msgpack/v5"
)

// maxScratch is the largest scratch slice an idle encoder keeps; a bigger
// encoding is left to the garbage collector after use, so one huge message
// does not pin its size in every pooled encoder.
const maxScratch = 64 << 10

// encoder is a pooled msgpack encoder with the package's settings, writing
// into w.
type encoder struct {
	enc     *msgpack.Encoder
	w       appender
	scratch []byte // kept between uses by Marshal and MarshalToBuffer
}

// appender is an io.Writer and io.ByteWriter that appends to a slice. The
// msgpack encoder uses WriteByte directly, so no bufio layer is needed.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

func (a *appender) WriteByte(c byte) error {
	a.b = append(a.b, c)
	return nil
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = msgpack.NewEncoder(&e.w)
	e.enc.UseCompactInts(true)
	return e
}}

// encode appends the encoding of v to dst using a pooled encoder and
// returns the extended slice; on error the returned slice must be ignored.
func (e *encoder) encode(dst []byte, v any) ([]byte, error) {
	e.w.b = dst
	err := e.enc.Encode(v)
	out := e.w.b
	e.w.b = nil
	return out, err
}

// encodeScratch encodes v into the encoder's scratch slice. The result is
// valid until the encoder is used again.
func (e *encoder) encodeScratch(v any) ([]byte, error) {
	out, err := e.encode(e.scratch[:0], v)
	if cap(out) <= maxScratch {
		e.scratch = out[:0]
	}
	return out, err
}

// Marshal returns the msgpack encoding of v, following the conventions in
// the package documentation. Cost: the encoding itself plus one allocation
// for the result; the encoder and its scratch space are pooled.
func Marshal(v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	out, err := e.encodeScratch(v)
	if err != nil {
		encoders.Put(e)
		return nil, err
	}
	b := bytes.Clone(out)
	encoders.Put(e)
	return b, nil
}

// AppendMarshal appends the msgpack encoding of v to dst and returns the
// extended slice, like strconv.AppendInt. Reusing dst across calls (for
// example dst[:0] of the previous result) means AppendMarshal allocates
// nothing of its own once dst is large enough; what remains is what the
// msgpack encoder allocates for the value (nothing for maps, slices and
// scalars, a little for some struct fields). On error it returns dst with its original
// length; bytes in its spare capacity may have been overwritten.
func AppendMarshal(dst []byte, v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	out, err := e.encode(dst, v)
	encoders.Put(e)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// MarshalToBuffer encodes v into a buffer from p, which the caller owns and
// must release (or send on). The value is encoded into pooled scratch space
// first and then copied into a buffer of exactly the encoded length, so the
// pool is charged only for what the encoding needs and nothing is taken
// from it when encoding fails. When the pool refuses the buffer the error
// is the pool's (mem.ErrPoolExhausted or mem.ErrTooLarge), for errors.Is.
// Cost: Marshal's encoding, a pool Get, and a copy of the result;
// encodings over 64 KiB also allocate their scratch space.
func MarshalToBuffer(p *mem.Pool, v any) (*mem.Buffer, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	out, err := e.encodeScratch(v)
	if err != nil {
		return nil, err
	}
	buf, err := p.Get(len(out))
	if err != nil {
		return nil, err
	}
	copy(buf.Bytes(), out)
	return buf, nil
}

// decoder is a pooled msgpack decoder reading from r.
type decoder struct {
	dec *msgpack.Decoder
	r   reader
}

var decoders = sync.Pool{New: func() any {
	d := &decoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}}

// Unmarshal decodes the msgpack value in data into v, which must be a
// non-nil pointer. data is checked with Validate first, so malformed or
// hostile input returns an error wrapping ErrMalformed instead of
// exhausting memory or the stack; a value of the wrong type for v returns
// the decoder's error. Nothing in v aliases data. Unknown map keys for a
// struct are ignored, so older readers accept newer writers' messages.
// Cost: Validate's pass, then decoding with a pooled decoder.
func Unmarshal(data []byte, v any) error {
	d := decoders.Get().(*decoder)
	if err := validate(data, &d.r.extBodies); err != nil {
		d.r.reset(nil)
		decoders.Put(d)
		return err
	}
	return d.decode(data, v)
}

// decode decodes validated data into v; d.r.extBodies holds data's
// extension bodies. It puts d back into the pool when done.
func (d *decoder) decode(data []byte, v any) (err error) {
	// A panic inside the decoder (a bug in it, or in a type's own
	// DecodeMsgpack) becomes an error: payloads come from outside the
	// process, and one bad message must not take the host down. The decoder
	// is then dropped rather than reused.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("codec: decoder panicked: %v", r)
		}
	}()
	d.r.data = data
	d.dec.ResetReader(&d.r)
	err = d.dec.Decode(v)
	d.r.reset(nil)
	decoders.Put(d)
	return err
}

// Decode decodes data into a new value of type T; see Unmarshal. On error
// it returns T's zero value. Cost: Unmarshal's, plus the value itself.
func Decode[T any](data []byte) (T, error) {
	var v T
	if err := Unmarshal(data, &v); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}
