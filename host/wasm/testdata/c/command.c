/*
 * c-command.wasm: a complete guest (every required export, right types)
 * built as a wasi *command* (no -mexec-model=reactor: it has main and
 * exports _start, not _initialize). The host must refuse it because it is a
 * command. Messages, should one ever arrive: reply with the same tag and
 * payload.
 */
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    stark_reply(tag, data, len);
    return STARK_OK;
}

int main(void) { return 0; }
