package codec

import (
	"strings"
	"testing"

	"github.com/stark-rt/stark/host/mem"
	"github.com/vmihailenco/msgpack/v5"
)

// payload1K is a typical request of about 1 KiB once encoded.
type payload1K struct {
	Model  string    `msgpack:"model"`
	Prompt string    `msgpack:"prompt"`
	Tokens []int32   `msgpack:"tokens"`
	Logits []float32 `msgpack:"logits"`
	Blob   []byte    `msgpack:"blob"`
	Temp   float64   `msgpack:"temp"`
	Stream bool      `msgpack:"stream"`
}

func newPayload1K() *payload1K {
	p := &payload1K{
		Model:  "llama-3-8b-instruct",
		Prompt: strings.Repeat("Once upon a time ", 20),
		Tokens: make([]int32, 64),
		Logits: make([]float32, 48),
		Blob:   make([]byte, 256),
		Temp:   0.7,
		Stream: true,
	}
	for i := range p.Tokens {
		p.Tokens[i] = int32(i * 1000)
	}
	for i := range p.Logits {
		p.Logits[i] = float32(i) / 3
	}
	return p
}

func TestPayload1KSize(t *testing.T) {
	data, err := Marshal(newPayload1K())
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 900 || len(data) > 1200 {
		t.Fatalf("benchmark payload is %d bytes, want about 1 KiB", len(data))
	}
}

func BenchmarkMarshal1K(b *testing.B) {
	var v any = newPayload1K()
	b.Run("msgpack.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := msgpack.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendMarshal", func(b *testing.B) {
		b.ReportAllocs()
		var dst []byte
		for b.Loop() {
			var err error
			if dst, err = AppendMarshal(dst[:0], v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MarshalToBuffer", func(b *testing.B) {
		pool := mem.NewPool("bench", mem.DefaultConfig())
		b.ReportAllocs()
		for b.Loop() {
			buf, err := MarshalToBuffer(pool, v)
			if err != nil {
				b.Fatal(err)
			}
			buf.Release()
		}
	})
}

func BenchmarkUnmarshal1K(b *testing.B) {
	data, _ := Marshal(newPayload1K())
	b.Run("msgpack.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var p payload1K
			if err := msgpack.Unmarshal(data, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var p payload1K
			if err := Unmarshal(data, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Validate", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := Validate(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
