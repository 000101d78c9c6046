/*
 * c-loop.wasm: a guest that never returns, to test message deadlines
 * (interruptible execution).
 *
 *   tag 1  loops forever: a volatile counter is incremented at every
 *          iteration, so the compiler can neither remove the loop nor prove
 *          it side-effect free. Only the host's deadline ends it.
 *   other  reply with the same tag and payload.
 */
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

static volatile uint32_t spins;

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    if (tag == 1) {
        for (;;) spins++;
    }
    stark_reply(tag, data, len);
    return STARK_OK;
}
