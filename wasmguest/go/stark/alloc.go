package stark

import "unsafe"

// Regions handed to the host by stark_alloc. Each is a Go-allocated []byte
// kept reachable here, keyed by its address, until the host gives it back
// with stark_free: the host writes payloads into them, and Go's garbage
// collector (which does not move heap objects) must never reuse them while
// the host may. Guests are single-threaded and the host calls one export at
// a time, so the table needs no lock.
var regions = map[uintptr][]byte{}

// allocRegion allocates a zeroed region of size bytes (at least one, so
// that every region has a distinct non-zero address), records it and
// returns its address. It returns 0 when size is beyond what Go can
// allocate; a size that fits the address space but not the actor's memory
// limit makes the Go runtime abort instead (a trap), which no code can
// catch. Cost: one allocation of size bytes and a map insert.
func allocRegion(size uint32) (addr uintptr) {
	defer func() {
		if recover() != nil {
			addr = 0
		}
	}()
	n := int(size)
	if n == 0 {
		n = 1
	}
	b := make([]byte, n)
	addr = uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	regions[addr] = b
	return addr
}

// freeRegion forgets the region at addr, so the garbage collector may reuse
// it. An address that stark_alloc did not return (or already freed) is
// ignored. Cost: a map delete.
func freeRegion(addr uintptr) { delete(regions, addr) }
