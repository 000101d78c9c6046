/*
 * counter-c: a counter actor written in C (built to counter-c.wasm).
 *
 * State: one 64-bit signed total (additions wrap around on overflow).
 *
 * Init bytes: empty (the total starts at 0) or one msgpack integer, the
 *   starting total. Anything else fails the spawn (STARK_INVALID).
 *
 * Messages (payloads are msgpack):
 *   tag 1 "add": payload an integer n. Adds n to the total and replies, tag 1,
 *                with the new total (an integer).
 *   tag 2 "get": payload ignored. Replies, tag 2, with the total.
 *   any other tag, or an "add" whose payload is not exactly one integer:
 *                fails the actor with STARK_INVALID and a reason.
 *
 * Replies go to the waiting ask or to the sender; a message with neither
 * cannot be answered, and the reply's status is ignored.
 */
#define STARK_GUEST_INIT
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

static int64_t total;

/* Reads exactly one msgpack integer from data. */
static bool read_one_int(const uint8_t *data, uint32_t len, int64_t *out) {
    stark_mp_reader r;
    stark_mp_reader_init(&r, data, len);
    return stark_mp_read_int(&r, out) && stark_mp_reader_done(&r);
}

/* Replies with `tag` and the total as a msgpack integer (9 bytes at most). */
static void reply_total(uint32_t tag) {
    uint8_t buf[9];
    stark_mp_writer w;
    stark_mp_writer_init(&w, buf, sizeof buf);
    stark_mp_write_int(&w, total);
    stark_reply(tag, buf, w.len);
}

int32_t stark_on_init(const uint8_t *data, uint32_t len) {
    if (len == 0) return STARK_OK;
    if (!read_one_int(data, len, &total))
        return stark_failed(STARK_INVALID, "counter-c: init bytes are not one msgpack integer");
    return STARK_OK;
}

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    switch (tag) {
    case 1: {
        int64_t n;
        if (!read_one_int(data, len, &n))
            return stark_failed(STARK_INVALID, "counter-c: add wants one msgpack integer");
        total = (int64_t)((uint64_t)total + (uint64_t)n);
        reply_total(1);
        return STARK_OK;
    }
    case 2:
        reply_total(2);
        return STARK_OK;
    default:
        return stark_failed(STARK_INVALID, "counter-c: unknown tag");
    }
}
