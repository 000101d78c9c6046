/*
 * c-bad-version.wasm: a complete guest (every export of the contract with the
 * right types) whose stark_abi_version returns 99. The host must refuse it
 * at spawn. Messages, should one ever arrive: reply with the same tag and
 * payload.
 */
#define STARK_GUEST_CUSTOM_ABI_VERSION
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

STARK__EXPORT("stark_abi_version")
int32_t stark_abi_version(void) { return 99; }

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    stark_reply(tag, data, len);
    return STARK_OK;
}
