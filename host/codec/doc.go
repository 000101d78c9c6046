// Package codec holds the msgpack helpers that STARK's Go code uses for
// structured payloads.
//
// The runtime never decodes user payloads: a message carries opaque bytes
// or a pooled buffer. By convention structured data is MessagePack, because
// every language STARK serves (Go, C, Python, Rust) has a mature decoder.
// This package fixes the choices that make Go's output read the same way
// everywhere, and makes decoding safe for bytes that come from anywhere.
//
// # Encoding conventions
//
//   - Go structs encode as maps keyed by field name, or by the name in a
//     `msgpack:"name"` tag; `msgpack:",omitempty"` and `msgpack:"-"` work as
//     in encoding/json. Maps are what Python's msgpack.unpackb, Rust's
//     rmp-serde (with named fields) and C's msgpack-c all read without a
//     schema. A struct can opt into the smaller array encoding with a field
//     named _msgpack of type struct{} tagged `msgpack:",as_array"`; every
//     reader must then know the field order.
//   - Integers use the smallest msgpack integer that holds the value, as
//     Python's msgpack does, so a Go int64(1) is the single byte 0x01 and Go
//     and Python produce the same bytes for the same numbers. Floats keep
//     their width (float32 stays float32, float64 stays float64).
//   - []byte encodes as msgpack bin and string as msgpack str, matching
//     Python's bytes and str with the default use_bin_type=True, raw=False.
//   - time.Time encodes as the standard timestamp extension (type -1), which
//     Python reads as msgpack.Timestamp.
//   - Use string map keys for data that crosses languages: Python refuses
//     other key types unless unpackb is called with strict_map_key=False.
//   - Map entries are written in Go's map iteration order, which varies from
//     run to run; struct fields are always written in declaration order. Do
//     not hash or compare encoded maps byte for byte.
//
// # Decoding untrusted bytes
//
// Payloads reach the host from C, Python, WASM guests and other processes,
// so Unmarshal and Decode first check the input with Validate: exactly one
// well-formed value, nesting at most MaxDepth deep, and no declared length
// or element count larger than the bytes that remain. Without that check a
// five-byte input declaring a map of four billion entries makes the
// underlying decoder try to allocate tens of gigabytes, which no recover
// can catch. The check is one pass over the input with no allocation.
// Decoded values never alias the input, so the input (for example a pooled
// buffer) can be released as soon as Unmarshal returns.
//
// Extension bodies are opaque. The msgpack library would read an extension
// that arrives where a Go map is expected as a wrapper around a map, parsing
// its body in place, where Validate has checked no lengths; Unmarshal
// refuses that read with ErrMalformed. Registered extensions (time.Time
// among them) read their bodies whole and are unaffected. A type that
// decodes nested msgpack from its own bytes (an extension's
// UnmarshalMsgpack, say) should call this package's Unmarshal for it, not
// msgpack.Unmarshal, to keep these guarantees.
//
// Decoding into a typed value (a struct, a typed map or slice) is the
// normal use. Decoding into any yields map[string]any for maps (maps with
// non-string keys fail; decode them into map[any]any or a typed map),
// []any for arrays, []byte for bin, string for str, and integers of the
// width they were sent in (int8, uint16, ...).
//
// # Cost
//
// Encoders and decoders are reused through sync.Pool, as the msgpack
// library itself does; the package starts no goroutines and sets no
// library option that does (msgpack.Unmarshal's value preallocation runs a
// goroutine per decoded type, so this package does not use it).
// AppendMarshal into a reused slice adds no allocation of its own. Marshal
// adds one allocation, for the result.
package codec
