/*
 * c-badptr.wasm: a guest that hands the host pointers outside its memory;
 * the import must trap (the actor fails with a reason naming the import)
 * and the host keep running.
 *
 *   tag 1  the raw `send` import, to stark_self(), with ptr 0xFFFFFF00 and
 *          len 4096 (past the end of any wasm32 memory).
 *   tag 2  the raw `reply` import with a valid ptr (a static buffer) and len
 *          0x7FFFFFFF (past the end of memory).
 *   other  reply with the same tag and payload.
 *
 * Should the import return instead of trapping (a host bug), tags 1 and 2
 * reply with the import's status (4 bytes, little-endian) and return OK, so
 * that a test sees that the actor did not fail.
 */
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

static uint8_t small[16];

static void reply_status(uint32_t tag, int32_t st) {
    uint8_t out[4];
    stark_put_u32le(out, (uint32_t)st);
    stark_reply(tag, out, sizeof out);
}

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    switch (tag) {
    case 1:
        reply_status(1, stark_raw_send(stark_self(), 1, (const void *)(uintptr_t)0xFFFFFF00u, 4096));
        break;
    case 2:
        reply_status(2, stark_raw_reply(2, small, 0x7FFFFFFFu));
        break;
    default:
        stark_reply(tag, data, len);
        break;
    }
    return STARK_OK;
}
