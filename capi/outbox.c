// stark_ctx_post: sends from inside a native handler without crossing into
// Go. The message is appended to the running callback's outbox (C memory
// next to the native's message struct); the runtime delivers the outbox,
// in order, when the handler returns. This saves a C-to-Go call per send,
// the dominant cost of a native hop.
#include <string.h>
#include "outbox.h"

void stark__set_error(const char *msg, size_t n); /* lasterror.c */
#define STARK__FAIL(st, msg) (stark__set_error(msg, sizeof msg - 1), (st))

// initial-exec: a plain %fs-relative access, not a __tls_get_addr call per post
// (16 bytes fit the static TLS glibc reserves even when the library is dlopened).
static _Thread_local stark__outbox *stark__cur_outbox __attribute__((tls_model("initial-exec")));
static _Thread_local stark_ctx stark__cur_ctx __attribute__((tls_model("initial-exec")));

__attribute__((visibility("hidden"))) void stark__outbox_begin(stark__outbox *o, stark_ctx ctx,
                                                              stark__outbox **prev_o, stark_ctx *prev_ctx) {
    *prev_o = stark__cur_outbox;
    *prev_ctx = stark__cur_ctx;
    o->count = 0;
    o->used = 0;
    stark__cur_outbox = o;
    stark__cur_ctx = ctx;
}

__attribute__((visibility("hidden"))) void stark__outbox_end(stark__outbox *prev_o, stark_ctx prev_ctx) {
    stark__cur_outbox = prev_o;
    stark__cur_ctx = prev_ctx;
}

stark_status stark_ctx_post(stark_ctx ctx, stark_ref to, uint32_t tag, const void *data, size_t len) {
    stark__outbox *o = stark__cur_outbox;
    if (o == NULL || ctx != stark__cur_ctx || ctx == 0)
        return STARK__FAIL(STARK_INVALID, "stark_ctx_post: ctx is not the running callback's on this thread");
    if (len > 0 && data == NULL) return STARK__FAIL(STARK_INVALID, "stark_ctx_post: data is NULL but len is not 0");
    if (len > STARK__OUTBOX_BYTES)
        return STARK__FAIL(STARK_TOO_LARGE, "stark_ctx_post: the payload is larger than the outbox (use stark_ctx_send)");
    size_t need = (sizeof(stark__post) + len + 7) & ~(size_t)7;
    if (o->count >= STARK__OUTBOX_MAX || need > STARK__OUTBOX_BYTES - o->used)
        return STARK__FAIL(STARK_FULL, "stark_ctx_post: the outbox is full (1024 messages or 64 KiB per handler call)");
    stark__post *p = (stark__post *)(o->data + o->used);
    p->to = to;
    p->tag = tag;
    p->len = (uint32_t)len;
    if (len) memcpy(p->bytes, data, len);
    o->used += (uint32_t)need;
    o->count++;
    return STARK_OK;
}
