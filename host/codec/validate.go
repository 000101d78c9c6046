package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxDepth is the deepest nesting of arrays and maps that Validate, and so
// Unmarshal, accepts. It keeps a hostile input from driving the decoder's
// recursion, and with it the goroutine stack, without bound.
const MaxDepth = 512

// ErrMalformed is returned (wrapped, with the offset and reason) for input
// that is not exactly one well-formed msgpack value within the limits
// described at Validate.
var ErrMalformed = errors.New("codec: malformed msgpack")

// Validate reports whether data holds exactly one well-formed msgpack value:
// every type byte is defined, every length fits in the bytes that remain,
// containers nest at most MaxDepth deep, and nothing follows the value. An
// array or map whose declared count exceeds the bytes left is refused
// before anything is allocated for it, which bounds what a decoder can be
// made to allocate by the size of the input. Errors wrap ErrMalformed.
//
// Validate does not look inside str or ext payloads (strings need not be
// UTF-8, and extension bodies are the business of their decoder). Cost: one
// pass over the type bytes, a few ns per value (str and bin bodies are
// skipped, not read), and no allocation unless containers nest more than
// 32 deep.
func Validate(data []byte) error { return validate(data, nil) }

// span is a range [start, end) of the input.
type span struct{ start, end int }

// validate is Validate that also appends to extBodies, when it is not nil,
// the ranges of every extension body, in ascending order.
func validate(data []byte, extBodies *[]span) error {
	// top counts the values still to read in the innermost open container
	// (the top level holds one value); outer holds the counts of the
	// containers around it, so len(outer) is the nesting depth. Shallow
	// input, the common case, never leaves the stack array.
	var shallow [32]uint64
	outer := shallow[:0]
	top := uint64(1)
	pos := 0
	for {
		for top == 0 {
			if len(outer) == 0 {
				if pos != len(data) {
					return malformed(pos, "%d bytes after the value", len(data)-pos)
				}
				return nil
			}
			top = outer[len(outer)-1]
			outer = outer[:len(outer)-1]
		}
		top--

		if pos >= len(data) {
			return malformed(pos, "input ends where a value is expected")
		}
		c := data[pos]
		o := ops[c]
		pos++

		body, count := uint64(o.size), uint64(0) // bytes to skip; values inside
		switch o.kind {
		case opFixed:
		case opFixArray:
			body, count = 0, uint64(o.size)
		case opFixMap:
			body, count = 0, 2*uint64(o.size)
		case opInvalid:
			return malformed(pos-1, "reserved type byte 0x%02x", c)
		default:
			n := int(o.size) // width of the length field
			if len(data)-pos < n {
				return malformed(pos-1, "length of type 0x%02x cut short", c)
			}
			var l uint64
			switch n {
			case 1:
				l = uint64(data[pos])
			case 2:
				l = uint64(binary.BigEndian.Uint16(data[pos:]))
			default:
				l = uint64(binary.BigEndian.Uint32(data[pos:]))
			}
			pos += n
			switch o.kind {
			case opBytes:
				body = l
			case opExt:
				body = l + 1 // the type byte, then the body
			case opArray:
				body, count = 0, l
			case opMap:
				body, count = 0, 2*l
			}
		}

		if body > uint64(len(data)-pos) {
			return malformed(pos-1, "value of type 0x%02x needs %d bytes, %d left", c, body, len(data)-pos)
		}
		if extBodies != nil && (o.kind == opExt || c >= 0xd4 && c <= 0xd8) {
			*extBodies = append(*extBodies, span{pos + 1, pos + int(body)})
		}
		pos += int(body)

		if count > 0 {
			// Every value takes at least one byte, so a count larger than
			// what is left is a lie, and refusing it here bounds what any
			// decoder allocates for it.
			if left := uint64(len(data) - pos); count > left {
				if o.kind == opMap || o.kind == opFixMap {
					return malformed(pos, "map of %d entries needs at least %d bytes, %d left", count/2, count, left)
				}
				return malformed(pos, "array of %d values needs at least %d bytes, %d left", count, count, left)
			}
			if len(outer) == MaxDepth {
				return malformed(pos, "nesting deeper than %d", MaxDepth)
			}
			outer = append(outer, top)
			top = count
		}
	}
}

// op describes a msgpack type byte for validate.
type op struct {
	kind uint8
	// size is, by kind: the bytes after the type byte (opFixed), the
	// element or entry count (opFixArray, opFixMap), or the width of the
	// length field that follows (opBytes, opExt, opArray, opMap).
	size uint8
}

const (
	opFixed = iota
	opFixArray
	opFixMap
	opBytes // str and bin
	opExt
	opArray
	opMap
	opInvalid
)

// ops maps every type byte to its op; read-only after package init.
var ops = func() (t [256]op) {
	for c := range 256 {
		switch {
		case c <= 0x7f, c >= 0xe0: // positive and negative fixint
			t[c] = op{opFixed, 0}
		case c <= 0x8f:
			t[c] = op{opFixMap, uint8(c & 0x0f)}
		case c <= 0x9f:
			t[c] = op{opFixArray, uint8(c & 0x0f)}
		case c <= 0xbf: // fixstr
			t[c] = op{opFixed, uint8(c & 0x1f)}
		}
	}
	t[0xc0] = op{opFixed, 0} // nil
	t[0xc1] = op{opInvalid, 0}
	t[0xc2] = op{opFixed, 0} // false
	t[0xc3] = op{opFixed, 0} // true
	t[0xc4], t[0xc5], t[0xc6] = op{opBytes, 1}, op{opBytes, 2}, op{opBytes, 4}
	t[0xc7], t[0xc8], t[0xc9] = op{opExt, 1}, op{opExt, 2}, op{opExt, 4}
	t[0xca], t[0xcb] = op{opFixed, 4}, op{opFixed, 8}
	t[0xcc], t[0xcd], t[0xce], t[0xcf] = op{opFixed, 1}, op{opFixed, 2}, op{opFixed, 4}, op{opFixed, 8}
	t[0xd0], t[0xd1], t[0xd2], t[0xd3] = op{opFixed, 1}, op{opFixed, 2}, op{opFixed, 4}, op{opFixed, 8}
	for i := range 5 { // fixext 1, 2, 4, 8, 16: type byte + body
		t[0xd4+i] = op{opFixed, uint8(1 + 1<<i)}
	}
	t[0xd9], t[0xda], t[0xdb] = op{opBytes, 1}, op{opBytes, 2}, op{opBytes, 4}
	t[0xdc], t[0xdd] = op{opArray, 2}, op{opArray, 4}
	t[0xde], t[0xdf] = op{opMap, 2}, op{opMap, 4}
	return t
}()

func malformed(offset int, format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrMalformed, offset, fmt.Sprintf(format, args...))
}
