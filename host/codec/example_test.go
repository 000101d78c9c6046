package codec_test

import (
	"errors"
	"fmt"

	"github.com/stark-rt/stark/host/codec"
	"github.com/stark-rt/stark/host/mem"
)

// Infer is a message as other languages see it: a map with the tag names
// as keys. Python reads it with msgpack.unpackb(data) as
// {"model": "tiny", "tokens": [1, 2, 3], "temp": 0.5}.
type Infer struct {
	Model  string  `msgpack:"model"`
	Tokens []int   `msgpack:"tokens"`
	Temp   float64 `msgpack:"temp,omitempty"`
}

func Example() {
	data, err := codec.Marshal(Infer{Model: "tiny", Tokens: []int{1, 2, 3}, Temp: 0.5})
	if err != nil {
		panic(err)
	}
	req, err := codec.Decode[Infer](data)
	fmt.Printf("%+v %v\n", req, err)
	// Output: {Model:tiny Tokens:[1 2 3] Temp:0.5} <nil>
}

// AppendMarshal reuses one slice for many messages.
func ExampleAppendMarshal() {
	var scratch []byte
	for i := range 3 {
		var err error
		scratch, err = codec.AppendMarshal(scratch[:0], Infer{Model: "m", Tokens: []int{i}})
		if err != nil {
			panic(err)
		}
		fmt.Printf("% x\n", scratch)
	}
	// Output:
	// 82 a5 6d 6f 64 65 6c a1 6d a6 74 6f 6b 65 6e 73 91 00
	// 82 a5 6d 6f 64 65 6c a1 6d a6 74 6f 6b 65 6e 73 91 01
	// 82 a5 6d 6f 64 65 6c a1 6d a6 74 6f 6b 65 6e 73 91 02
}

// MarshalToBuffer encodes into a pooled buffer that can travel in a
// message without copying; the receiver releases it.
func ExampleMarshalToBuffer() {
	pool := mem.NewPool("payloads", mem.DefaultConfig())
	buf, err := codec.MarshalToBuffer(pool, map[string]any{"op": "embed", "dim": 384})
	if err != nil {
		panic(err) // mem.ErrPoolExhausted when the pool is full
	}
	// ... send buf to an actor; on the receiving side:
	m, err := codec.Decode[map[string]any](buf.Bytes())
	_ = buf.Release()
	fmt.Println(m["op"], m["dim"], err)
	// Output: embed 384 <nil>
}

// Input from outside the process is checked before anything is allocated
// for it.
func ExampleUnmarshal_malformed() {
	hostile := []byte{0xdf, 0xff, 0xff, 0xff, 0xff} // "a map of 4294967295 entries"
	var m map[string]any
	err := codec.Unmarshal(hostile, &m)
	fmt.Println(errors.Is(err, codec.ErrMalformed))
	fmt.Println(err)
	// Output:
	// true
	// codec: malformed msgpack at byte 5: map of 4294967295 entries needs at least 8589934590 bytes, 0 left
}
