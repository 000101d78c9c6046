package codec

import (
	"errors"
	"fmt"
	"io"
)

// errExtBody is returned when the decoder tries to read the body of a
// msgpack extension as if it were msgpack. msgpack/v5 does that when an
// extension arrives where a Go map is expected (it treats the extension as
// a wrapper around a map), and the lengths inside an extension body were
// never checked by Validate: a hostile body could declare a multi-gigabyte
// string and the decoder would allocate it.
var errExtBody = fmt.Errorf("%w: extension body read as a msgpack value (extensions are opaque; decode their bodies with Unmarshal)", ErrMalformed)

var errUnread = errors.New("codec: UnreadByte at the start of input")

// reader feeds validated input to the msgpack decoder. It is a bytes.Reader
// that also refuses to hand out a type byte from inside an extension body:
// extension bodies are opaque, read only whole (through Read) by their
// registered decoder, so every type byte the decoder reads is one that
// Validate has checked.
type reader struct {
	data      []byte
	pos       int
	extBodies []span // ascending, disjoint; filled by validate
}

func (r *reader) reset(data []byte) {
	r.data, r.pos = data, 0
	if cap(r.extBodies) > maxKeptSpans {
		r.extBodies = nil // do not pin one huge message's list in the pool
	}
	r.extBodies = r.extBodies[:0]
}

// maxKeptSpans bounds the extension list an idle decoder keeps.
const maxKeptSpans = 1024

// Read implements io.Reader.
func (r *reader) Read(p []byte) (int, error) {
	if r.pos >= len(r.data) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, r.data[r.pos:])
	r.pos += n
	return n, nil
}

// ReadByte implements io.ByteReader; the decoder reads every type byte
// through it.
func (r *reader) ReadByte() (byte, error) {
	if r.pos >= len(r.data) {
		return 0, io.EOF
	}
	if len(r.extBodies) > 0 && r.inExtBody(r.pos) {
		return 0, errExtBody
	}
	c := r.data[r.pos]
	r.pos++
	return c, nil
}

// UnreadByte implements io.ByteScanner.
func (r *reader) UnreadByte() error {
	if r.pos <= 0 {
		return errUnread
	}
	r.pos--
	return nil
}

// inExtBody reports whether pos lies inside an extension body.
func (r *reader) inExtBody(pos int) bool {
	lo, hi := 0, len(r.extBodies)
	for lo < hi { // first span that ends after pos
		mid := int(uint(lo+hi) >> 1)
		if r.extBodies[mid].end <= pos {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(r.extBodies) && r.extBodies[lo].start <= pos
}
