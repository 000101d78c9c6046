//go:build !unix

package wasm

import "github.com/tetratelabs/wazero/experimental"

func memoryAllocator(limit uint64) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		return &sliceMemory{limit: min(limit, max)}
	})
}
