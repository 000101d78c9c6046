/*
 * c-missing-handle.wasm: a module that exports stark_abi_version and
 * stark_alloc (and memory) but no stark_handle. The host must refuse it at
 * compile time, naming stark_handle. Built without the implementation part
 * of stark_guest.h.
 */
#include <stdlib.h>

#include "stark_guest.h"

__attribute__((export_name("stark_abi_version"))) int32_t abi_version(void);
__attribute__((export_name("stark_alloc"))) void *alloc(uint32_t size);

int32_t abi_version(void) { return STARK_ABI_VERSION; }
void *alloc(uint32_t size) { return malloc(size); }
