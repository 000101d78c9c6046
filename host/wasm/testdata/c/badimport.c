/*
 * c-bad-import.wasm: a complete guest that also imports "env" "mystery"
 * (() -> i32), a module the host does not provide. The host must refuse it
 * at compile time, naming the import. The call is reachable (tag 1) so that
 * the linker keeps the import; other tags reply with the same tag and
 * payload.
 */
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

__attribute__((import_module("env"), import_name("mystery"))) int32_t mystery(void);

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    if (tag == 1) {
        int32_t v = mystery();
        stark_reply(tag, &v, sizeof v);
        return STARK_OK;
    }
    stark_reply(tag, data, len);
    return STARK_OK;
}
