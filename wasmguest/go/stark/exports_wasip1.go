//go:build wasip1

package stark

// The exports of the guest contract v1 (docs/wasm-abi.md). A Go guest always
// exports all of them; the optional ones behave as if absent when the
// author registered no hook: stark_init and stark_snapshot do nothing and
// return OK, stark_restore drops the state with a warning and returns OK.
// Every export recovers panics: the reason goes to the fail import and the
// export returns INTERNAL (8). A fatal runtime error (out of memory, a
// deadlock) is not a panic and ends as a trap.

// abiVersion is the major version of the contract this SDK implements.
const abiVersion = 1

//go:wasmexport stark_abi_version
func starkABIVersion() int32 { return abiVersion }

//go:wasmexport stark_alloc
func starkAlloc(size uint32) uint32 {
	return uint32(allocRegion(size))
}

//go:wasmexport stark_free
func starkFree(ptr uint32) {
	freeRegion(uintptr(ptr))
}

//go:wasmexport stark_init
func starkInit(ptr, n uint32) int32 {
	return doInit(wasmHost{}, view(ptr, n))
}

//go:wasmexport stark_handle
func starkHandle(tag, ptr, n uint32) int32 {
	return doHandle(wasmHost{}, Message{Tag: tag, Data: view(ptr, n)})
}

//go:wasmexport stark_stop
func starkStop() {
	doStop(wasmHost{})
}

//go:wasmexport stark_snapshot
func starkSnapshot() int32 {
	return doSnapshot(wasmHost{})
}

//go:wasmexport stark_restore
func starkRestore(ptr, n uint32) int32 {
	return doRestore(wasmHost{}, view(ptr, n))
}
