package codec

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stark-rt/stark/host/mem"
	"github.com/vmihailenco/msgpack/v5"
)

type inner struct {
	ID    uint64            `msgpack:"id"`
	Score float32           `msgpack:"score"`
	Attrs map[string]string `msgpack:"attrs,omitempty"`
}

type request struct {
	Model   string         `msgpack:"model"`
	Prompt  string         `msgpack:"prompt"`
	Tokens  []int32        `msgpack:"tokens"`
	Weights []float64      `msgpack:"weights"`
	Blob    []byte         `msgpack:"blob"`
	Items   []inner        `msgpack:"items"`
	Meta    map[string]any `msgpack:"meta"`
	When    time.Time      `msgpack:"when"`
	Skip    string         `msgpack:"-"`
	Opt     *inner         `msgpack:"opt,omitempty"`
	Plain   bool
}

func sampleRequest() request {
	return request{
		Model:   "llama",
		Prompt:  strings.Repeat("tell me a story ", 4),
		Tokens:  []int32{1, -2, 300, 70000, math.MinInt32},
		Weights: []float64{0.5, -1.25, math.MaxFloat64},
		Blob:    []byte{0, 1, 2, 0xff},
		Items:   []inner{{ID: 1, Score: 0.5, Attrs: map[string]string{"k": "v"}}, {ID: math.MaxUint64}},
		Meta:    map[string]any{"n": "x", "list": []any{"a", true, nil}},
		When:    time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Plain:   true,
	}
}

func TestRoundTripStruct(t *testing.T) {
	in := sampleRequest()
	in.Skip = "not sent"
	data, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out request
	if err := Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	want := sampleRequest()
	if !out.When.Equal(want.When) {
		t.Fatalf("time %v, want %v", out.When, want.When)
	}
	out.When = want.When
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", out, want)
	}
}

func TestStructsAreMapsWithTagNames(t *testing.T) {
	data, err := Marshal(inner{ID: 7, Score: 1})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["id"] != int8(7) || m["score"] != float32(1) {
		t.Fatalf("struct decoded as map: %#v", m)
	}
	if data[0] != 0x82 { // fixmap of 2: omitempty dropped attrs
		t.Fatalf("first byte %#x, want fixmap 0x82", data[0])
	}
}

// TestWireFormat pins the bytes Python's msgpack.packb produces for the same
// values, so both sides agree.
func TestWireFormat(t *testing.T) {
	tests := []struct {
		v    any
		want []byte
	}{
		{int64(1), []byte{0x01}},                        // packb(1)
		{int64(-1), []byte{0xff}},                       // packb(-1)
		{int(200), []byte{0xcc, 0xc8}},                  // packb(200)
		{int64(-200), []byte{0xd1, 0xff, 0x38}},         // packb(-200)
		{uint64(70000), []byte{0xce, 0, 1, 0x11, 0x70}}, // packb(70000)
		{1.5, []byte{0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}},
		{"hi", []byte{0xa2, 'h', 'i'}},
		{[]byte("hi"), []byte{0xc4, 2, 'h', 'i'}},
		{[]int{1, 2}, []byte{0x92, 1, 2}},
		{map[string]int{"a": 1}, []byte{0x81, 0xa1, 'a', 1}},
		{nil, []byte{0xc0}},
		{true, []byte{0xc3}},
	}
	for _, tt := range tests {
		got, err := Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("Marshal(%#v) = % x, want % x", tt.v, got, tt.want)
		}
	}
}

func TestRoundTripValues(t *testing.T) {
	check := func(name string, in, out any) {
		t.Helper()
		data, err := Marshal(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := reflect.ValueOf(out).Elem().Interface(); !reflect.DeepEqual(got, in) {
			t.Fatalf("%s: got %#v, want %#v", name, got, in)
		}
	}
	check("map", map[string]int{"a": 1, "b": -2, "c": 1 << 40}, new(map[string]int))
	check("nested map", map[string][]string{"x": {"1", "2"}, "y": nil}, new(map[string][]string))
	check("int keys", map[int]string{1: "one", -5: "minus"}, new(map[int]string))
	check("slice", []string{"a", "", "ccc"}, new([]string))
	check("floats", []float32{1.5, -0, float32(math.Inf(1))}, new([]float32))
	check("bytes", bytes.Repeat([]byte{0xab}, 70000), new([]byte))
	check("empty bytes", []byte{}, new([]byte))
	check("string", strings.Repeat("é", 40000), new(string))
	check("uint64", uint64(math.MaxUint64), new(uint64))
	check("int64", int64(math.MinInt64), new(int64))

	var a any
	data, _ := Marshal(map[string]any{"k": []any{"v", []byte{1}}})
	if err := Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"k": []any{"v", []byte{1}}}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("into any: %#v", a)
	}
}

func TestArrayEncodedStruct(t *testing.T) {
	type point struct {
		_msgpack struct{} `msgpack:",as_array"`
		X, Y     int
	}
	data, err := Marshal(point{X: 1, Y: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, []byte{0x92, 1, 2}) {
		t.Fatalf("as_array encoding % x", data)
	}
	p, err := Decode[point](data)
	if err != nil || p.X != 1 || p.Y != 2 {
		t.Fatalf("Decode: %+v, %v", p, err)
	}
}

func TestUnknownFieldsIgnored(t *testing.T) {
	data, _ := Marshal(map[string]any{"id": 3, "future_field": []int{1, 2}})
	got, err := Decode[inner](data)
	if err != nil || got.ID != 3 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestDecodedValuesDoNotAliasInput(t *testing.T) {
	data, _ := Marshal(inner{Attrs: map[string]string{"key": "value"}})
	blob, _ := Marshal([]byte("payload"))
	got, err := Decode[inner](data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode[[]byte](blob)
	if err != nil {
		t.Fatal(err)
	}
	clear(data)
	clear(blob)
	if got.Attrs["key"] != "value" || string(b) != "payload" {
		t.Fatal("decoded values changed when the input was overwritten")
	}
}

func TestAppendMarshalReusesDst(t *testing.T) {
	dst := make([]byte, 0, 4096)
	prefix := append(dst, "hdr"...)
	out, err := AppendMarshal(prefix, sampleRequest())
	if err != nil {
		t.Fatal(err)
	}
	if &out[0] != &dst[:1][0] {
		t.Fatal("AppendMarshal reallocated although dst had room")
	}
	if string(out[:3]) != "hdr" {
		t.Fatal("prefix lost")
	}
	want, _ := Marshal(sampleRequest())
	if len(out)-3 != len(want) {
		t.Fatalf("appended %d bytes, Marshal gives %d", len(out)-3, len(want))
	}
	var back request
	if err := Unmarshal(out[3:], &back); err != nil {
		t.Fatal(err)
	}

	// The encoder allocates for some struct fields through reflection;
	// AppendMarshal itself adds nothing.
	var v any = map[string]any{"id": 9, "tokens": []int{1, 2}, "blob": []byte("x")}
	allocs := testing.AllocsPerRun(100, func() {
		out, _ = AppendMarshal(dst[:0], v)
	})
	if allocs != 0 && !raceEnabled {
		t.Fatalf("AppendMarshal into a reused slice: %v allocs, want 0", allocs)
	}

	// On error dst comes back with its length unchanged.
	prefix = append(dst[:0], "hdr"...)
	res, err := AppendMarshal(prefix, make(chan int))
	if err == nil || len(res) != 3 || string(res) != "hdr" {
		t.Fatalf("error path: %q, %v", res, err)
	}
	if _, err := Marshal(func() {}); err == nil {
		t.Fatal("Marshal of a func succeeded")
	}
}

func TestMarshalToBuffer(t *testing.T) {
	pool := mem.NewPool("codec", mem.DefaultConfig().WithLimit(8<<10))
	buf, err := MarshalToBuffer(pool, sampleRequest())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Marshal(sampleRequest())
	if buf.Len() != len(want) || buf.Cap() < buf.Len() {
		t.Fatalf("buffer len %d cap %d, encoding is %d bytes", buf.Len(), buf.Cap(), len(want))
	}
	got, err := Decode[request](buf.Bytes())
	if err != nil || got.Model != "llama" {
		t.Fatalf("Decode from buffer: %v", err)
	}
	if err := buf.Release(); err != nil {
		t.Fatal(err)
	}

	// A payload bigger than the pool can ever hold, then one that does not
	// fit while another buffer is live.
	if _, err := MarshalToBuffer(pool, make([]byte, 9<<10)); !errors.Is(err, mem.ErrTooLarge) {
		t.Fatalf("oversized: %v, want mem.ErrTooLarge", err)
	}
	hold, err := pool.Get(6 << 10) // 8 KiB class: the whole limit
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MarshalToBuffer(pool, "x"); !errors.Is(err, mem.ErrPoolExhausted) {
		t.Fatalf("full pool: %v, want mem.ErrPoolExhausted", err)
	}
	hold.Release()
	if _, err := MarshalToBuffer(pool, make(chan int)); err == nil {
		t.Fatal("encoding error not reported")
	}
	if s := pool.Stats(); s.LiveBytes != 0 {
		t.Fatalf("failed calls left %d live bytes", s.LiveBytes)
	}

	// Large encodings do not stay pinned in the pooled scratch space.
	big := NewBig(100 << 10)
	b2, err := MarshalToBuffer(mem.NewPool("big", mem.DefaultConfig()), big)
	if err != nil || b2.Len() != len(big)+5 {
		t.Fatalf("big: len %d, %v", b2.Len(), err)
	}
	b2.Release()
}

// NewBig returns n bytes that encode as a bin32.
func NewBig(n int) []byte { return bytes.Repeat([]byte{7}, n) }

func TestDecodeGeneric(t *testing.T) {
	data, _ := Marshal(map[string]float64{"pi": 3.14})
	m, err := Decode[map[string]float64](data)
	if err != nil || m["pi"] != 3.14 {
		t.Fatalf("Decode map: %v %v", m, err)
	}
	n, err := Decode[int](data)
	if err == nil || n != 0 {
		t.Fatalf("Decode of a map into int: %v, %v; want zero and an error", n, err)
	}
	p, err := Decode[*inner]([]byte{0xc0})
	if err != nil || p != nil {
		t.Fatalf("nil into pointer: %v, %v", p, err)
	}
}

func TestMalformed(t *testing.T) {
	cases := map[string][]byte{
		"empty":             {},
		"reserved c1":       {0xc1},
		"truncated str":     {0xa5, 'a', 'b'},
		"truncated uint32":  {0xce, 0, 0},
		"trailing bytes":    {0x01, 0x02},
		"truncated array":   {0x93, 0x01, 0x02},
		"huge map32":        {0xdf, 0xff, 0xff, 0xff, 0xff},
		"huge array32":      {0xdd, 0xff, 0xff, 0xff, 0xff},
		"huge bin32":        {0xc6, 0xff, 0xff, 0xff, 0xff},
		"huge str32":        {0xdb, 0xff, 0xff, 0xff, 0xff},
		"huge ext32":        {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},
		"map count in body": {0x81, 0x01},
		"missing length":    {0xda, 0x01},
		"truncated fixext":  {0xd8, 0x01, 0x00},
		"too deep":          append(bytes.Repeat([]byte{0x91}, MaxDepth+1), 0xc0),
		"deep and short":    bytes.Repeat([]byte{0x91}, 100000),
	}
	for name, data := range cases {
		if err := Validate(data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Validate = %v, want ErrMalformed", name, err)
		}
		var v any
		if err := Unmarshal(data, &v); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Unmarshal = %v, want ErrMalformed", name, err)
		}
		var r request
		if err := Unmarshal(data, &r); err == nil {
			t.Errorf("%s: Unmarshal into struct succeeded", name)
		}
	}
	deepest := append(bytes.Repeat([]byte{0x91}, MaxDepth), 0xc0)
	if err := Validate(deepest); err != nil {
		t.Fatalf("MaxDepth nesting refused: %v", err)
	}
	var v any
	if err := Unmarshal(deepest, &v); err != nil {
		t.Fatalf("MaxDepth nesting: %v", err)
	}
	// Well-formed but the wrong shape is an ordinary decode error.
	data, _ := Marshal("text")
	if _, err := Decode[int](data); err == nil || errors.Is(err, ErrMalformed) {
		t.Fatalf("type mismatch: %v", err)
	}
	// A []byte key cannot go into map[any]any: the decoder panics, and
	// Unmarshal turns that into an error.
	var u map[any]any
	if err := Unmarshal([]byte{0x81, 0xc4, 0x01, 'k', 0x01}, &u); err == nil {
		t.Fatal("bin key into map[any]any succeeded")
	}
	// Non-pointer targets are refused.
	if err := Unmarshal([]byte{0x01}, 5); err == nil {
		t.Fatal("Unmarshal into a non-pointer succeeded")
	}
}

// TestExtensionBodiesAreOpaque covers msgpack/v5 reading an extension as
// a wrapped map when the target is a Go map: the body's own lengths were
// never validated, so that read must be refused, not followed.
func TestExtensionBodiesAreOpaque(t *testing.T) {
	hostile := []byte{0xd7, 0x30, 0x87, 0xc6, 0xc6, 0x30, 0x30, 0x30, 0xff, 0x30}
	if err := Validate(hostile); err != nil {
		t.Fatalf("well-formed fixext8 refused: %v", err)
	}
	var m map[any]any
	if err := Unmarshal(hostile, &m); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ext read as map: %v, want ErrMalformed", err)
	}
	var ms map[string][]int
	if err := Unmarshal(hostile, &ms); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ext read as typed map: %v, want ErrMalformed", err)
	}
	// Same trick nested inside a struct field, after another extension.
	type holder struct {
		When  time.Time         `msgpack:"when"`
		Attrs map[string]string `msgpack:"attrs"`
	}
	in, _ := Marshal(map[string]any{"when": time.Unix(1, 600_000_000)})
	nested := append([]byte{0x82}, in[1:]...)
	nested = append(nested, 0xa5, 'a', 't', 't', 'r', 's')
	nested = append(nested, 0xd6, 0x01, 0x81, 0xdb, 0xff, 0xff)
	if err := Validate(nested); err != nil {
		t.Fatalf("nested: %v", err)
	}
	if _, err := Decode[holder](nested); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nested ext read as map: %v, want ErrMalformed", err)
	}
	// Timestamps of every width still decode, also next to maps.
	for _, ts := range []time.Time{time.Unix(1, 0), time.Unix(1, 600_000_000), time.Unix(1<<35, 999_999_999), time.Unix(-5, 3)} {
		data, _ := Marshal(holder{When: ts, Attrs: map[string]string{"k": "v"}})
		got, err := Decode[holder](data)
		if err != nil || !got.When.Equal(ts) || got.Attrs["k"] != "v" {
			t.Fatalf("timestamp %v: got %v, %v", ts, got.When, err)
		}
		var a any
		data, _ = Marshal(ts)
		if err := Unmarshal(data, &a); err != nil || !a.(time.Time).Equal(ts) {
			t.Fatalf("timestamp %v into any: %v, %v", ts, a, err)
		}
	}
}

func TestValidateAcceptsEveryType(t *testing.T) {
	values := []any{
		nil, true, false, int8(-3), int64(-40000), int64(math.MinInt64), uint8(200),
		uint16(60000), uint32(1 << 31), uint64(math.MaxUint64), float32(1.5), 2.5,
		"", strings.Repeat("s", 31), strings.Repeat("s", 32), strings.Repeat("s", 300),
		strings.Repeat("s", 70000), []byte{}, bytes.Repeat([]byte{1}, 300),
		bytes.Repeat([]byte{1}, 70000), make([]int, 16), make([]int, 70000),
		map[string]int{}, bigMap(20), bigMap(70000), time.Unix(1, 0), time.Unix(1<<40, 5),
		time.Unix(1, 5), []any{map[string]any{"a": []any{}}},
	}
	for _, v := range values {
		data, err := Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(data); err != nil {
			t.Errorf("Validate(Marshal(%T)): %v", v, err)
		}
	}
	// Extensions of every size.
	for _, n := range []int{1, 2, 4, 8, 16, 3, 300, 70000} {
		var buf bytes.Buffer
		if err := msgpack.NewEncoder(&buf).EncodeExtHeader(5, n); err != nil {
			t.Fatal(err)
		}
		buf.Write(make([]byte, n))
		if err := Validate(buf.Bytes()); err != nil {
			t.Errorf("ext of %d bytes: %v", n, err)
		}
	}
}

func bigMap(n int) map[string]int {
	m := make(map[string]int, n)
	for i := range n {
		m[string(rune('a'+i%26))+strings.Repeat("x", i/26%3)+string(rune(i))] = i
	}
	return m
}
