/*
 * upgrade v2 (built to upgrade-v2.wasm): the successor of v1.c. It takes
 * over v1's state at a hot upgrade.
 *
 * State: total (int64, the sum of every "add"), count (the number of "add"
 * messages handled).
 *
 * Messages (payloads are msgpack):
 *   tag 1 "add":   payload an integer n. total += n, count += 1. No reply.
 *   tag 2 "get":   payload ignored. Replies, tag 2, with the map
 *                  {"version": 2, "total": <int>, "count": <int>}.
 *   tag 3 "reset": payload ignored. total = count = 0. No reply.
 *   any other tag, or an "add" whose payload is not exactly one integer:
 *                  fails the actor with STARK_INVALID and a reason.
 *
 * Exports stark_snapshot (saves the msgpack array [total, count], as v1
 * does, so v2 can be upgraded to v2 again) and stark_restore (reads that
 * array; extra trailing elements are ignored, empty state means zero, and
 * anything else fails the upgrade with STARK_INVALID).
 *
 * The same file is the body of two variants (see v2_stateless.c and
 * v2_badinit.c), selected with these macros before it is included:
 *   UPGRADE_V2_NO_RESTORE  do not export stark_restore (state starts at zero)
 *   UPGRADE_V2_BAD_INIT    export stark_init, which always fails
 *   UPGRADE_V2_NAME        the name used in failure reasons
 */
#ifndef UPGRADE_V2_NO_RESTORE
#define STARK_GUEST_RESTORE
#endif
#ifdef UPGRADE_V2_BAD_INIT
#define STARK_GUEST_INIT
#endif
#ifndef UPGRADE_V2_NAME
#define UPGRADE_V2_NAME "upgrade-v2"
#endif
#define STARK_GUEST_SNAPSHOT
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

#define VERSION 2

static int64_t total;
static int64_t count;

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    switch (tag) {
    case 1: {
        stark_mp_reader r;
        int64_t n;
        stark_mp_reader_init(&r, data, len);
        if (!stark_mp_read_int(&r, &n) || !stark_mp_reader_done(&r))
            return stark_failed(STARK_INVALID, UPGRADE_V2_NAME ": add wants one msgpack integer");
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
        if (!stark_mp_writer_ok(&w))
            return stark_failed(STARK_INTERNAL, UPGRADE_V2_NAME ": reply buffer too small");
        stark_reply(2, buf, w.len);
        return STARK_OK;
    }
    case 3:
        total = 0;
        count = 0;
        return STARK_OK;
    default:
        return stark_failed(STARK_INVALID, UPGRADE_V2_NAME ": unknown tag");
    }
}

int32_t stark_on_snapshot(void) {
    uint8_t buf[32];
    stark_mp_writer w;
    stark_mp_writer_init(&w, buf, sizeof buf);
    stark_mp_write_array(&w, 2);
    stark_mp_write_int(&w, total);
    stark_mp_write_int(&w, count);
    if (!stark_mp_writer_ok(&w))
        return stark_failed(STARK_INTERNAL, UPGRADE_V2_NAME ": snapshot buffer too small");
    int32_t st = stark_save(buf, w.len);
    if (st != STARK_OK) return stark_failed(st, UPGRADE_V2_NAME ": save refused");
    return STARK_OK;
}

#ifndef UPGRADE_V2_NO_RESTORE
int32_t stark_on_restore(const uint8_t *data, uint32_t len) {
    stark_mp_reader r;
    uint32_t n;
    int64_t t, c;
    if (len == 0) return STARK_OK; /* nothing saved: start from zero */
    stark_mp_reader_init(&r, data, len);
    if (!stark_mp_read_array(&r, &n) || n < 2 || !stark_mp_read_int(&r, &t) ||
        !stark_mp_read_int(&r, &c))
        return stark_failed(STARK_INVALID, UPGRADE_V2_NAME ": saved state is not [total, count]");
    for (uint32_t i = 2; i < n; i++) /* written by a later version: ignore */
        if (!stark_mp_skip(&r))
            return stark_failed(STARK_INVALID, UPGRADE_V2_NAME ": saved state is malformed");
    if (!stark_mp_reader_done(&r))
        return stark_failed(STARK_INVALID, UPGRADE_V2_NAME ": trailing bytes after the saved state");
    total = t;
    count = c;
    return STARK_OK;
}
#endif

#ifdef UPGRADE_V2_BAD_INIT
int32_t stark_on_init(const uint8_t *data, uint32_t len) {
    (void)data;
    (void)len;
    return stark_failed(STARK_INTERNAL, "refusing to start");
}
#endif
