/*
 * c-recurse.wasm: a guest that exhausts its stack, to test that stack
 * exhaustion is a trap that fails the actor and nothing else.
 *
 *   tag 1  recurses without bound. Each frame keeps a 256-byte volatile
 *          array on the shadow stack and uses the callee's result after the
 *          call, so there is no tail call and nothing to inline; the stop
 *          condition compares with a volatile that is never reached (it is
 *          only there so that the compiler does not see infinite recursion).
 *          The shadow stack is at the bottom of memory (--stack-first), so
 *          running off it is an out-of-bounds access: a trap. (Should the
 *          engine's own call stack run out first, that is a trap too.)
 *   tag 2  recurses without bound using only wasm locals (no shadow stack):
 *          only the engine's own call stack grows, until wazero's ceiling
 *          traps it ("stack overflow") or the deadline ends it.
 *   other  reply with the same tag and payload.
 */
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

static volatile uint32_t never = UINT32_MAX;

__attribute__((noinline)) static uint32_t dive(uint32_t depth) {
    volatile uint8_t frame[256];
    frame[0] = (uint8_t)depth;
    frame[255] = (uint8_t)(depth >> 8);
    if (depth == never) return frame[0];
    return dive(depth + 1) + frame[0] + frame[255];
}

__attribute__((noinline)) static uint32_t plunge(uint32_t depth) {
    if (depth == never) return depth;
    return plunge(depth + 1) * 3u + depth;
}

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    if (tag == 1) {
        uint32_t v = dive(0);
        stark_reply(tag, &v, sizeof v);
        return STARK_OK;
    }
    if (tag == 2) {
        uint32_t v = plunge(0);
        stark_reply(tag, &v, sizeof v);
        return STARK_OK;
    }
    stark_reply(tag, data, len);
    return STARK_OK;
}
