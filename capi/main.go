// Command capi is libstark.so: the C ABI of STARK (abi/stark.h), built with
//
//	go build -buildmode=c-shared -o libstark.so ./capi   (make lib)
//
// It is thin on purpose: handle tables, argument checks and error
// translation over the host packages, and no runtime logic of its own. No
// Go pointer crosses the boundary: every object is a 64-bit handle into a
// table here, payloads are copied or live in C memory (pooled buffers), and
// every export recovers panics into STARK_INTERNAL. The build compiles
// each export against the prototype in abi/stark.h (small typedefs in each
// file's preamble spell the header's const pointers, which cgo cannot), so
// a signature that drifts from the header does not build.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../abi -O2 -Wall -D_GNU_SOURCE
*/
import "C"

func main() {}
