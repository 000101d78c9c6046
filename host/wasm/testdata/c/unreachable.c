/*
 * c-unreachable.wasm: a guest that traps.
 *
 *   tag 1  __builtin_trap(): the `unreachable` instruction.
 *   other  reply with the same tag and payload.
 */
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    if (tag == 1) __builtin_trap();
    stark_reply(tag, data, len);
    return STARK_OK;
}
