/*
 * c-bad-signature.wasm: a module whose stark_handle has the wrong type,
 * (i64) -> i64 instead of (i32, i32, i32) -> i32. It also exports
 * stark_abi_version and stark_alloc (correct). The host must refuse it at
 * compile time, naming stark_handle.
 */
#include <stdlib.h>

#include "stark_guest.h"

__attribute__((export_name("stark_abi_version"))) int32_t abi_version(void);
__attribute__((export_name("stark_alloc"))) void *alloc(uint32_t size);
__attribute__((export_name("stark_handle"))) int64_t bad_handle(int64_t x);

int32_t abi_version(void) { return STARK_ABI_VERSION; }
void *alloc(uint32_t size) { return malloc(size); }
int64_t bad_handle(int64_t x) { return x + 1; }
