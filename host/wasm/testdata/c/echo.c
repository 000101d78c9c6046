/*
 * c-echo.wasm: the host's test guest for every import. Built from this file
 * with wasmguest/c/stark_guest.h (batching on: stark_handle calls `next`).
 * All integers in payloads are little-endian; "status" is an int32.
 *
 *   tag 1  reply tag 1 with the payload as it came.
 *   tag 2  payload: 8-byte ref. send "ping" (4 bytes) with tag 7 to it, and
 *          reply tag 2 with the send's status (4 bytes): NOT_FOUND for a
 *          stale ref. A payload that is not 8 bytes: reply STARK_INVALID.
 *   tag 3  reply tag 3 with stark_self() then stark_sender() (16 bytes).
 *   tag 4  log the payload at level 1 (info); reply tag 4, empty.
 *   tag 5  reply tag 5 with stark_now() (8 bytes).
 *   tag 6  payload: 8-byte delay_ns (int64). Set a one-shot timer that sends
 *          tag 9 with payload "tick"; reply tag 6 with the status (4 bytes).
 *          A payload that is not 8 bytes: reply STARK_INVALID.
 *   tag 9  (the timer firing) counted; no reply.
 *   tag 10 reply tag 10 with the number of tag-9 messages so far (4 bytes).
 *   tag 11 payload: a name. stark_lookup it; reply tag 11 with the status
 *          (4 bytes) then the ref (8 bytes, 0 on failure).
 *   tag 12 payload: a module name. stark_spawn it with empty init bytes;
 *          reply tag 12 with the status (4 bytes) then the ref (8 bytes).
 *   tag 13 stark_fail("told to fail"), return status 8 (STARK_INTERNAL).
 *   other  reply tag 0, empty.
 *
 * Init: the init bytes "fail-init" make stark_init fail with status 8
 * (STARK_INTERNAL) and the reason "init refused: fail-init"; any other init
 * bytes are ignored.
 *
 * Reply statuses are ignored (a message without sender or ask has nobody to
 * answer).
 */
#define STARK_GUEST_INIT
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

static uint32_t ticks;

static void reply_status(uint32_t tag, int32_t st) {
    uint8_t out[4];
    stark_put_u32le(out, (uint32_t)st);
    stark_reply(tag, out, sizeof out);
}

static void reply_status_ref(uint32_t tag, int32_t st, stark_ref ref) {
    uint8_t out[12];
    stark_put_u32le(out, (uint32_t)st);
    stark_put_u64le(out + 4, ref);
    stark_reply(tag, out, sizeof out);
}

int32_t stark_on_init(const uint8_t *data, uint32_t len) {
    if (len == 9 && memcmp(data, "fail-init", 9) == 0)
        return stark_failed(STARK_INTERNAL, "init refused: fail-init");
    return STARK_OK;
}

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    switch (tag) {
    case 1:
        stark_reply(1, data, len);
        break;
    case 2:
        if (len != 8) {
            reply_status(2, STARK_INVALID);
            break;
        }
        reply_status(2, stark_send(stark_get_u64le(data), 7, "ping", 4));
        break;
    case 3: {
        uint8_t out[16];
        stark_put_u64le(out, stark_self());
        stark_put_u64le(out + 8, stark_sender());
        stark_reply(3, out, sizeof out);
        break;
    }
    case 4:
        stark_log(STARK_LOG_INFO, (const char *)data, len);
        stark_reply(4, NULL, 0);
        break;
    case 5: {
        uint8_t out[8];
        stark_put_u64le(out, (uint64_t)stark_now());
        stark_reply(5, out, sizeof out);
        break;
    }
    case 6:
        if (len != 8) {
            reply_status(6, STARK_INVALID);
            break;
        }
        reply_status(6, stark_set_timer((int64_t)stark_get_u64le(data), 9, "tick", 4, false, NULL));
        break;
    case 9:
        ticks++;
        break;
    case 10: {
        uint8_t out[4];
        stark_put_u32le(out, ticks);
        stark_reply(10, out, sizeof out);
        break;
    }
    case 11: {
        stark_ref ref;
        int32_t st = stark_lookup((const char *)data, len, &ref);
        reply_status_ref(11, st, ref);
        break;
    }
    case 12: {
        stark_ref ref;
        int32_t st = stark_spawn((const char *)data, len, NULL, 0, &ref);
        reply_status_ref(12, st, ref);
        break;
    }
    case 13:
        return stark_failed(STARK_INTERNAL, "told to fail");
    default:
        stark_reply(0, NULL, 0);
        break;
    }
    return STARK_OK;
}
