/*
 * t_buffers: pooled buffers. alloc, data, write, set_len; retain/release
 * counts (the handle stays valid until the last release; a release past
 * it is STARK_NOT_FOUND); send_buffer to a native actor that takes it
 * (stark_ctx_take_buffer) and checks the bytes and the address (zero
 * copy: the very pointer the sender wrote to), then releases it; a buffer
 * not taken is released by the runtime; the sender's handle is stale after
 * send_buffer; a retained buffer sent keeps the sender's handle;
 * ctx_send_buffer between actors; reply_buffer round trip through
 * stark_ask (reply.buffer non-zero, data points into it) freed by
 * stark_reply_free; pool exhaustion with a small pool_limit_bytes
 * (STARK_EXHAUSTED, STARK_TOO_LARGE); buffers of another runtime; the pool
 * accounts every byte back (pool_live_bytes 0).
 */
#include "t.h"

enum { TAKE = 1, PEEK, FORWARD, REPLY_BUF, HOLD };

static stark_runtime rt;
static stark_ref taker, peer;
static void *expect_ptr;
static size_t expect_len;
static atomic_int taken_ok, peeked_ok, held_ok, plain_ok;
static stark_buffer kept; /* a handle kept past the callback that got it */

static int pattern_ok(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 7 + seed)) return 0;
    return 1;
}
static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 7 + seed);
}

static uint64_t live_bytes(stark_runtime r) {
    stark_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    OK(stark_runtime_metrics(r, &m));
    return m.pool_live_bytes;
}

static stark_status handle(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ud;
    stark_runtime r;
    CHECK(stark_ctx_runtime(ctx, &r) == STARK_OK);
    switch (m->tag) {
    case TAKE: {
        /* Zero copy: the payload is the sender's memory. */
        CHECK(m->buffer != 0 && m->data == expect_ptr && m->len == expect_len);
        CHECK(pattern_ok(m->data, m->len, 3));
        stark_buffer b = 0;
        CHECK(stark_ctx_take_buffer(ctx, &b) == STARK_OK && b == m->buffer);
        CHECK(stark_ctx_take_buffer(ctx, NULL) == STARK_INVALID);
        void *p = NULL;
        size_t n = 0;
        CHECK(stark_buffer_data(r, b, &p, &n) == STARK_OK && p == expect_ptr && n == expect_len);
        stark_status st1 = stark_buffer_release(r, b), st2 = stark_buffer_release(r, b);
        CHECKF(st1 == STARK_OK && st2 == STARK_NOT_FOUND, "release: %d, again: %d (%s)", (int)st1, (int)st2,
               stark_last_error());
        atomic_fetch_add(&taken_ok, 1);
        return STARK_OK;
    }
    case PEEK: /* not taken: the runtime releases it after the handler */
        CHECK(m->buffer != 0 && m->data == expect_ptr && pattern_ok(m->data, m->len, 3));
        kept = m->buffer;
        atomic_fetch_add(&peeked_ok, 1);
        return STARK_OK;
    case HOLD: { /* taken and kept: main releases it later */
        stark_buffer b = 0;
        CHECK(stark_ctx_take_buffer(ctx, &b) == STARK_OK);
        kept = b;
        atomic_fetch_add(&held_ok, 1);
        return STARK_OK;
    }
    case FORWARD: { /* to the peer, without copying */
        stark_buffer b = 0;
        CHECK(stark_ctx_take_buffer(ctx, &b) == STARK_OK);
        return stark_ctx_send_buffer(ctx, peer, TAKE, b);
    }
    case REPLY_BUF: {
        stark_buffer b = 0;
        void *p = NULL;
        stark_status st = stark_buffer_alloc(r, 4096, &b);
        if (st != STARK_OK) return st;
        CHECK(stark_buffer_data(r, b, &p, NULL) == STARK_OK);
        fill(p, 1000, 9);
        CHECK(stark_buffer_set_len(r, b, 1000) == STARK_OK);
        expect_ptr = p;
        return stark_ctx_reply_buffer(ctx, REPLY_BUF, b);
    }
    case 99: /* a plain message without a buffer */
        CHECK(m->buffer == 0);
        stark_buffer b = 1;
        CHECK(stark_ctx_take_buffer(ctx, &b) == STARK_NOT_FOUND);
        atomic_fetch_add(&plain_ok, 1);
        return STARK_OK;
    }
    return STARK_INVALID;
}

static stark_buffer make(size_t cap, size_t len, void **out) {
    stark_buffer b = 0;
    void *p = NULL;
    size_t n = 0;
    OK(stark_buffer_alloc(rt, cap, &b));
    CHECK(b != 0);
    OK(stark_buffer_data(rt, b, &p, &n));
    CHECK(p != NULL && n == cap);
    fill(p, len, 3);
    OK(stark_buffer_set_len(rt, b, len));
    OK(stark_buffer_data(rt, b, NULL, &n));
    CHECK(n == len);
    if (out) *out = p;
    return b;
}

static void basics(void) {
    void *p;
    stark_buffer b = make(1000, 600, &p);
    void *p2 = NULL;
    size_t n = 0;
    OK(stark_buffer_data(rt, b, &p2, &n));
    CHECK(p2 == p && n == 600 && pattern_ok(p, 600, 3));
    CHECK(live_bytes(rt) >= 1000);
    EXPECT(stark_buffer_data(rt, b, NULL, NULL), STARK_INVALID);
    EXPECT(stark_buffer_set_len(rt, b, SIZE_MAX), STARK_INVALID);
    OK(stark_buffer_set_len(rt, b, 1000)); /* up to the capacity asked for */
    OK(stark_buffer_set_len(rt, b, 0));
    OK(stark_buffer_data(rt, b, &p2, &n));
    CHECK(n == 0 && p2 == p);
    /* Retain/release: the handle lives until the last reference goes. */
    OK(stark_buffer_retain(rt, b));
    OK(stark_buffer_retain(rt, b));
    OK(stark_buffer_release(rt, b));
    OK(stark_buffer_release(rt, b));
    OK(stark_buffer_data(rt, b, &p2, &n)); /* one reference left */
    OK(stark_buffer_release(rt, b));
    EXPECT(stark_buffer_release(rt, b), STARK_NOT_FOUND); /* double release */
    EXPECT(stark_buffer_data(rt, b, &p2, &n), STARK_NOT_FOUND);
    EXPECT(stark_buffer_retain(rt, b), STARK_NOT_FOUND);
    EXPECT(stark_buffer_set_len(rt, b, 1), STARK_NOT_FOUND);
    EXPECT(stark_send_buffer(rt, taker, TAKE, b), STARK_NOT_FOUND);
    /* A new buffer never answers to the old handle. */
    stark_buffer b2 = make(1000, 10, NULL);
    CHECK(b2 != b);
    EXPECT(stark_buffer_data(rt, b, &p2, &n), STARK_NOT_FOUND);
    OK(stark_buffer_release(rt, b2));
    /* Forged handles. */
    EXPECT(stark_buffer_data(rt, 0, &p2, &n), STARK_NOT_FOUND);
    EXPECT(stark_buffer_release(rt, 0), STARK_NOT_FOUND);
    EXPECT(stark_buffer_release(rt, 0xffffffff00000001ull), STARK_NOT_FOUND);
    EXPECT(stark_buffer_retain(rt, b2 + (1ull << 32)), STARK_NOT_FOUND);
    EXPECT(stark_buffer_alloc(rt, 10, NULL), STARK_INVALID);
    stark_buffer z = 5;
    EXPECT(stark_buffer_alloc(rt, SIZE_MAX, &z), STARK_TOO_LARGE);
    CHECK(z == 0);
    /* Zero bytes is a valid, empty buffer. */
    OK(stark_buffer_alloc(rt, 0, &z));
    OK(stark_buffer_data(rt, z, &p2, &n));
    CHECK(n == 0);
    OK(stark_buffer_release(rt, z));
    CHECK(live_bytes(rt) == 0);
}

static void send_and_take(void) {
    /* Taken by the receiver, checked in place, released there. */
    void *p;
    stark_buffer b = make(8192, 5000, &p);
    expect_ptr = p;
    expect_len = 5000;
    OK(stark_send_buffer(rt, taker, TAKE, b));
    /* The reference moved: the sender's handle is stale at once. */
    void *q;
    size_t n;
    EXPECT(stark_buffer_data(rt, b, &q, &n), STARK_NOT_FOUND);
    EXPECT(stark_buffer_release(rt, b), STARK_NOT_FOUND);
    EXPECT(stark_send_buffer(rt, taker, TAKE, b), STARK_NOT_FOUND);
    WAIT_UNTIL(atomic_load(&taken_ok) == 1, 2000);

    /* Small and empty payloads too: a buffer's payload is never copied. */
    size_t lens[] = {1, 7, 256, 0};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        b = make(8192, lens[i], &p);
        expect_ptr = p;
        expect_len = lens[i];
        OK(stark_send_buffer(rt, taker, TAKE, b));
        WAIT_UNTIL(atomic_load(&taken_ok) == 2 + (int)i, 2000);
    }
    atomic_store(&taken_ok, 1);

    /* Not taken: the runtime releases it when the handler returns, and the
     * handle the handler saw is stale afterwards. */
    b = make(8192, 100, &p);
    expect_ptr = p;
    expect_len = 100;
    OK(stark_send_buffer(rt, taker, PEEK, b));
    WAIT_UNTIL(atomic_load(&peeked_ok) == 1, 2000);
    WAIT_UNTIL(live_bytes(rt) == 0, 2000);
    EXPECT(stark_buffer_release(rt, kept), STARK_NOT_FOUND);

    /* Taken and kept past the callback: the receiver's handle stays valid. */
    b = make(8192, 100, &p);
    OK(stark_send_buffer(rt, taker, HOLD, b));
    WAIT_UNTIL(atomic_load(&held_ok) == 1, 2000);
    OK(stark_buffer_data(rt, kept, &q, &n));
    CHECK(q == p && n == 100 && pattern_ok(q, 100, 3));
    OK(stark_buffer_release(rt, kept));
    EXPECT(stark_buffer_release(rt, kept), STARK_NOT_FOUND);

    /* Retained before sending: the sender keeps its handle and reference. */
    b = make(8192, 64, &p);
    OK(stark_buffer_retain(rt, b));
    expect_ptr = p;
    expect_len = 64;
    OK(stark_send_buffer(rt, taker, TAKE, b));
    WAIT_UNTIL(atomic_load(&taken_ok) == 2, 2000);
    OK(stark_buffer_data(rt, b, &q, &n));
    CHECK(q == p && n == 64);
    OK(stark_buffer_release(rt, b));
    EXPECT(stark_buffer_release(rt, b), STARK_NOT_FOUND);

    /* Forwarded between actors with ctx_send_buffer: still the same memory. */
    b = make(8192, 300, &p);
    expect_ptr = p;
    expect_len = 300;
    OK(stark_send_buffer(rt, taker, FORWARD, b));
    WAIT_UNTIL(atomic_load(&taken_ok) == 3, 2000);

    /* A refused send still takes the reference (and releases it). */
    b = make(8192, 10, &p);
    stark_ref gone = taker ^ (1ull << 33);
    EXPECT(stark_send_buffer(rt, gone, TAKE, b), STARK_NOT_FOUND);
    EXPECT(stark_buffer_release(rt, b), STARK_NOT_FOUND);
    OK(stark_send(rt, taker, 99, "plain", 5));
    WAIT_UNTIL(atomic_load(&plain_ok) == 1, 2000);
}

static void reply_buffer(void) {
    stark_reply r = t_reply();
    OK(stark_ask(rt, taker, REPLY_BUF, NULL, 0, 2 * T_SEC, &r));
    CHECK(r.tag == REPLY_BUF && r.buffer != 0 && r.len == 1000);
    CHECK(r.data == expect_ptr); /* points into the buffer: no copy */
    CHECK(pattern_ok(r.data, r.len, 9));
    void *p;
    size_t n;
    OK(stark_buffer_data(rt, r.buffer, &p, &n));
    CHECK(p == r.data && n == 1000);
    stark_buffer rb = r.buffer;
    OK(stark_reply_free(&r));
    CHECK(r.buffer == 0 && r.data == NULL && r.len == 0);
    EXPECT(stark_buffer_release(rt, rb), STARK_NOT_FOUND);
    OK(stark_reply_free(&r));
    WAIT_UNTIL(live_bytes(rt) == 0, 2000);
}

static void exhaustion(void) {
    stark_config cfg;
    stark_config_init(&cfg);
    cfg.pool_limit_bytes = 64 * 1024;
    stark_runtime small;
    OK(stark_runtime_new(&cfg, &small));
    stark_buffer bs[64];
    int n = 0;
    stark_status st = STARK_OK;
    for (; n < 64; n++) {
        st = stark_buffer_alloc(small, 8192, &bs[n]);
        if (st != STARK_OK) break;
    }
    CHECKF(st == STARK_EXHAUSTED && n == 8, "%d buffers, then %d (%s)", n, (int)st, stark_last_error());
    CHECK(bs[n] == 0);
    CHECK(stark_last_error()[0] != 0);
    stark_buffer one;
    EXPECT(stark_buffer_alloc(small, 1, &one), STARK_EXHAUSTED);
    EXPECT(stark_buffer_alloc(small, 64 * 1024 + 1, &one), STARK_TOO_LARGE); /* can never fit */
    /* A buffer of one runtime is unknown to another. */
    void *p;
    size_t len;
    EXPECT(stark_buffer_data(rt, bs[0], &p, &len), STARK_NOT_FOUND);
    EXPECT(stark_buffer_release(rt, bs[0]), STARK_NOT_FOUND);
    EXPECT(stark_send_buffer(rt, taker, TAKE, bs[0]), STARK_NOT_FOUND);
    OK(stark_buffer_data(small, bs[0], &p, &len)); /* untouched by those */
    OK(stark_buffer_release(small, bs[0]));
    OK(stark_buffer_alloc(small, 8192, &one)); /* room again */
    OK(stark_buffer_release(small, one));
    for (int i = 1; i < n; i++) OK(stark_buffer_release(small, bs[i]));
    CHECK(live_bytes(small) == 0);
    /* After shutdown a held buffer can still be released; a buffer sent
     * is gone whatever the result (the stopped runtime released it). */
    stark_buffer late;
    OK(stark_buffer_alloc(small, 100, &one));
    OK(stark_buffer_alloc(small, 100, &late));
    OK(stark_runtime_shutdown(small, 0));
    EXPECT(stark_buffer_alloc(small, 1, &bs[0]), STARK_STOPPED);
    OK(stark_buffer_release(small, one));
    EXPECT(stark_send_buffer(small, taker, TAKE, late), STARK_STOPPED);
    EXPECT(stark_buffer_release(small, late), STARK_NOT_FOUND);
    CHECK(live_bytes(small) == 0);
    /* Buffers still held when the runtime is freed become stale. */
    stark_runtime small2;
    OK(stark_runtime_new(&cfg, &small2));
    OK(stark_buffer_alloc(small2, 100, &one));
    OK(stark_buffer_retain(small2, one));
    OK(stark_runtime_free(small2));
    EXPECT(stark_buffer_release(small2, one), STARK_NOT_FOUND);
    OK(stark_runtime_free(small));
}

int main(void) {
    t_begin("t_buffers");
    OK(stark_runtime_new(NULL, &rt));
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = handle;
    OK(stark_spawn(rt, &d, NULL, &taker));
    OK(stark_spawn(rt, &d, NULL, &peer));
    basics();
    send_and_take();
    reply_buffer();
    exhaustion();
    /* A buffer still held at stark_runtime_free is released with it. */
    stark_buffer left;
    OK(stark_buffer_alloc(rt, 3000, &left));
    OK(stark_runtime_free(rt));
    EXPECT(stark_buffer_release(rt, left), STARK_NOT_FOUND);
    t_end();
    return 0;
}
