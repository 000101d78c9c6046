package codec

import (
	"bytes"
	"testing"
)

// FuzzUnmarshal feeds arbitrary bytes to the decoding entry points. None may
// panic, hang or allocate without bound, and anything decoded must encode
// again into valid msgpack.
func FuzzUnmarshal(f *testing.F) {
	for _, v := range []any{
		sampleRequest(), map[string]any{"a": []any{1, "x", nil}}, []byte("bin"),
		int64(-1 << 40), 1.5, "text", []int{1, 2, 3},
	} {
		data, err := Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc9, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00}) // ext32, type -1
	f.Add([]byte{0xd6, 0xff, 0, 0, 0, 1})                   // timestamp32
	f.Add(bytes.Repeat([]byte{0x91}, 40))
	f.Add([]byte{0xd7, 0x30, 0x87, 0xc6, 0xc6, 0x30, 0x30, 0x30, 0xff, 0x30}) // ext read as a map

	f.Fuzz(func(t *testing.T, data []byte) {
		valid := Validate(data) == nil

		var a any
		err := Unmarshal(data, &a)
		if err == nil {
			if !valid {
				t.Fatal("Unmarshal accepted input that Validate refused")
			}
			again, err := Marshal(a)
			if err != nil {
				t.Fatalf("re-encoding %#v: %v", a, err)
			}
			if err := Validate(again); err != nil {
				t.Fatalf("re-encoding is invalid: %v", err)
			}
		}

		var r request
		if Unmarshal(data, &r) == nil && !valid {
			t.Fatal("Unmarshal into struct accepted input that Validate refused")
		}
		var m map[string][]int
		_ = Unmarshal(data, &m)
		var u map[any]any
		_ = Unmarshal(data, &u)
		var fixed [4]string
		_ = Unmarshal(data, &fixed)
	})
}
