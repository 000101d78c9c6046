package main

import "testing"

// FuzzABI drives random sequences of C ABI calls (see abiFuzzer): stale,
// forged and cross-runtime handles, NULL and lying pointers, lengths from
// zero to 2^40. No call may panic inside the library (STARK_INTERNAL) or
// return a status outside the header's list. make test runs the seeds;
// run it longer with
//
//	go test ./capi -run '^$' -fuzz FuzzABI -fuzztime 10m
func FuzzABI(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 1, 3, 3, 0, 0, 7, 6, 0, 0, 9, 9, 9, 8, 0, 0})
	f.Add([]byte{0, 0, 0, 14, 0, 16, 0, 15, 0, 0, 16, 0, 0, 3, 2, 1, 0, 0, 17, 0, 21})
	f.Add([]byte("\x00\x00\x00\x06\x00\x10\x00\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x08\x00\x00\x14\x00\x15"))
	f.Add([]byte{255, 255, 255, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21})
	f.Fuzz(func(t *testing.T, in []byte) {
		fz := newABIFuzzer(in)
		defer fz.close()
		for i := 0; len(fz.in) > 0 && i < 200; i++ {
			st, call := fz.step()
			if st == sInternal || st < 0 || st > sFailed {
				t.Fatalf("call %d (%s) returned %d: %s", i, call, int32(st), lastError())
			}
		}
	})
}
