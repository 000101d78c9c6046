/*
 * c-bench.wasm: the guest side of the request/reply benchmark.
 *
 *   tag 1  payload: the msgpack array [id (unsigned int), data (bin)]; data
 *          is 1024 bytes in the benchmark but any size works. Replies, tag 1,
 *          with the msgpack array [id + 1, data] (id + 1 wraps at 2^64).
 *          The input must be exactly that: an array of 2, a non-negative
 *          integer, a bin, nothing after it. Anything else:
 *          stark_fail("bad msgpack") and status 1 (STARK_INVALID).
 *   other  stark_fail("unknown tag") and status 1.
 *
 * The reply is encoded into a static buffer (no allocation per message);
 * data larger than that buffer is encoded into a malloc'ed one instead.
 * The data is copied with one memcpy (a memory.copy instruction).
 */
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

/* array header (1) + uint64 (9) + bin32 header (5) + 2 KiB of data */
#define OUT_OVERHEAD 15u
static uint8_t out[OUT_OVERHEAD + 2048];

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    if (tag != 1) return stark_failed(STARK_INVALID, "unknown tag");

    stark_mp_reader r;
    uint32_t n, blen;
    uint64_t id;
    const uint8_t *bin;
    stark_mp_reader_init(&r, data, len);
    if (!stark_mp_read_array(&r, &n) || n != 2 || !stark_mp_read_uint(&r, &id) ||
        !stark_mp_read_bin(&r, &bin, &blen) || !stark_mp_reader_done(&r))
        return stark_failed(STARK_INVALID, "bad msgpack");

    uint8_t *buf = out;
    uint32_t cap = sizeof out;
    if (blen > sizeof out - OUT_OVERHEAD) {
        if (blen > UINT32_MAX - OUT_OVERHEAD) return stark_failed(STARK_TOO_LARGE, "data too large");
        cap = blen + OUT_OVERHEAD;
        buf = malloc(cap);
        if (buf == NULL) return stark_failed(STARK_EXHAUSTED, "out of memory");
    }
    stark_mp_writer w;
    stark_mp_writer_init(&w, buf, cap);
    stark_mp_write_array(&w, 2);
    stark_mp_write_uint(&w, id + 1);
    stark_mp_write_bin(&w, bin, blen);
    int32_t st = STARK_OK;
    if (stark_mp_writer_ok(&w))
        stark_reply(1, buf, w.len);
    else
        st = stark_failed(STARK_INTERNAL, "reply does not fit");
    if (buf != out) free(buf);
    return st;
}
