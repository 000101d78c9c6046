/*
 * upgrade v1 (built to upgrade-v1.wasm): the first version of a stateful
 * actor used to show a hot upgrade. v2.c is its successor.
 *
 * State: total (int64, the sum of every "add"), count (the number of "add"
 * messages handled).
 *
 * Messages (payloads are msgpack):
 *   tag 1 "add": payload an integer n. total += n, count += 1. No reply.
 *   tag 2 "get": payload ignored. Replies, tag 2, with the map
 *                {"version": 1, "total": <int>, "count": <int>}.
 *   any other tag, or an "add" whose payload is not exactly one integer:
 *                fails the actor with STARK_INVALID and a reason.
 *
 * Exports stark_snapshot: saves the state as the msgpack array
 * [total, count] (the format v2's stark_restore reads). No stark_init, no
 * stark_restore: v1 always starts from zero.
 */
#define STARK_GUEST_SNAPSHOT
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

#define VERSION 1

static int64_t total;
static int64_t count;

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    switch (tag) {
    case 1: {
        stark_mp_reader r;
        int64_t n;
        stark_mp_reader_init(&r, data, len);
        if (!stark_mp_read_int(&r, &n) || !stark_mp_reader_done(&r))
            return stark_failed(STARK_INVALID, "upgrade-v1: add wants one msgpack integer");
        total = (int64_t)((uint64_t)total + (uint64_t)n);
        count++;
        return STARK_OK;
    }
    case 2: {
        uint8_t buf[64];
        stark_mp_writer w;
        stark_mp_writer_init(&w, buf, sizeof buf);
        stark_mp_write_map(&w, 3);
        stark_mp_write_cstr(&w, "version");
        stark_mp_write_int(&w, VERSION);
        stark_mp_write_cstr(&w, "total");
        stark_mp_write_int(&w, total);
        stark_mp_write_cstr(&w, "count");
        stark_mp_write_int(&w, count);
        if (!stark_mp_writer_ok(&w)) return stark_failed(STARK_INTERNAL, "upgrade-v1: reply buffer too small");
        stark_reply(2, buf, w.len);
        return STARK_OK;
    }
    default:
        return stark_failed(STARK_INVALID, "upgrade-v1: unknown tag");
    }
}

int32_t stark_on_snapshot(void) {
    uint8_t buf[32];
    stark_mp_writer w;
    stark_mp_writer_init(&w, buf, sizeof buf);
    stark_mp_write_array(&w, 2);
    stark_mp_write_int(&w, total);
    stark_mp_write_int(&w, count);
    if (!stark_mp_writer_ok(&w)) return stark_failed(STARK_INTERNAL, "upgrade-v1: snapshot buffer too small");
    int32_t st = stark_save(buf, w.len);
    if (st != STARK_OK) return stark_failed(st, "upgrade-v1: save refused");
    return STARK_OK;
}
