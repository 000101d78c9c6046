/*
 * c-membomb.wasm: a guest that eats memory, to test the memory limit.
 *
 *   tag 1  malloc 1 MiB blocks in a loop, filling each one (memset, one
 *          memory.fill) and chaining it into a list so that the compiler
 *          cannot drop it, until malloc returns NULL; then __builtin_trap()
 *          (an `unreachable` trap).
 *   tag 2  grow memory directly with __builtin_wasm_memory_grow, 16 pages
 *          (1 MiB) at a time until that fails, then one page at a time until
 *          that fails too (so memory ends exactly at the limit); then
 *          stark_fail("memory limit") and return status 5 (STARK_EXHAUSTED).
 *   other  reply with the same tag and payload.
 */
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

#define BLOCK (1u << 20)

static void *volatile head; /* the chain of blocks: keeps every malloc alive */

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    if (tag == 1) {
        for (;;) {
            void *p = malloc(BLOCK);
            if (p == NULL) __builtin_trap();
            memset(p, 0xa5, BLOCK);
            *(void **)p = head;
            head = p;
        }
    }
    if (tag == 2) {
        while (__builtin_wasm_memory_grow(0, 16) != (size_t)-1) {
        }
        while (__builtin_wasm_memory_grow(0, 1) != (size_t)-1) {
        }
        return stark_failed(STARK_EXHAUSTED, "memory limit");
    }
    stark_reply(tag, data, len);
    return STARK_OK;
}
