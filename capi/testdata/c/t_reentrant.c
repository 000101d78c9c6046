/*
 * t_reentrant: callbacks that call back into the ABI. From inside a
 * handler: stark_ctx_send to another native actor (which answers with
 * stark_ctx_reply, a message back to its sender), stark_ctx_reply to an
 * ask, stark_ctx_spawn of a child (supervised by its parent: restarted
 * after a failure, stopped with it), stark_ctx_self, stark_ctx_runtime,
 * stark_register/stark_lookup, a blocking stark_ask and a top-level
 * stark_spawn from a worker thread. A ctx used after its callback
 * returned, or forged, is STARK_INVALID for every stark_ctx_* function
 * (and a def passed to a refused stark_ctx_spawn is not taken).
 * stark_ctx_post: posted messages arrive in order after the handler
 * returns, overtaken by stark_ctx_send; the outbox takes 1024 messages per
 * call, then STARK_FULL; a post to a stale ref becomes a dead letter.
 */
#include "t.h"

enum {
    A_SELF = 1, A_PINGB, A_PONG, A_SPAWN, A_REGISTER, A_ASKB, A_SAVE_CTX, A_SPAWN_TOP, A_SEND_SELF, A_SELF_LOOP,
    A_POST, A_POST_FULL,
    B_PING = 100, B_ECHO, B_ORDER, B_COUNT, C_ECHO = 200, C_FAIL
};

static stark_runtime rt;
static stark_ref ref_a, ref_b;
static stark_ctx saved_ctx, saved_hook_ctx;
static atomic_int pongs, b_handled, child_starts, child_frees, a_frees, b_frees, top_frees, self_loops;
static atomic_ullong pong_sender, b_sender;
static char b_order[64]; /* B_ORDER payloads in arrival order (B's handler only) */
static atomic_int b_order_len, b_counted, post_full_ok, post_checks_ok;

static void count_free(void *p) { atomic_fetch_add((atomic_int *)p, 1); }

/* B answers pings with a message back to the sender, and echoes asks. */
static stark_status b_handle(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ud;
    atomic_fetch_add(&b_handled, 1);
    if (m->tag == B_PING) {
        atomic_store(&b_sender, m->sender);
        CHECK(m->is_ask == 0);
        return stark_ctx_reply(ctx, A_PONG, m->data, m->len); /* a message to A */
    }
    if (m->tag == B_ECHO) return stark_ctx_reply(ctx, m->tag, m->data, m->len);
    if (m->tag == B_ORDER) {
        int n = atomic_load(&b_order_len);
        if (m->len == 1 && n < (int)sizeof b_order - 1) b_order[n] = *(const char *)m->data;
        atomic_store(&b_order_len, n + 1);
        return STARK_OK;
    }
    if (m->tag == B_COUNT) {
        CHECK(m->sender == ref_a);
        atomic_fetch_add(&b_counted, 1);
        return STARK_OK;
    }
    return STARK_INVALID;
}

/* C: a child of A. */
static stark_status c_start(stark_ctx ctx, void *ud) {
    (void)ctx;
    (void)ud;
    atomic_fetch_add(&child_starts, 1);
    return STARK_OK;
}
static stark_status c_handle(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ud;
    if (m->tag == C_FAIL) {
        stark_ctx_fail(ctx, "child fails on purpose");
        return STARK_FAILED;
    }
    return stark_ctx_reply(ctx, m->tag, m->data, m->len);
}

static stark_status a_start(stark_ctx ctx, void *ud) {
    (void)ud;
    saved_hook_ctx = ctx;
    return STARK_OK;
}

static stark_status a_handle(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ud;
    stark_ref self = 0;
    stark_runtime r = 0;
    switch (m->tag) {
    case A_SELF: {
        CHECK(stark_ctx_self(ctx, &self) == STARK_OK);
        CHECK(stark_ctx_runtime(ctx, &r) == STARK_OK);
        CHECK(stark_ctx_self(ctx, NULL) == STARK_INVALID);
        CHECK(stark_ctx_runtime(ctx, NULL) == STARK_INVALID);
        uint64_t out[2] = {self, r};
        return stark_ctx_reply(ctx, A_SELF, out, sizeof out);
    }
    case A_PINGB:
        return stark_ctx_send(ctx, ref_b, B_PING, m->data, m->len);
    case A_PONG:
        CHECK(m->len == 4 && memcmp(m->data, "ping", 4) == 0);
        atomic_store(&pong_sender, m->sender);
        atomic_fetch_add(&pongs, 1);
        return STARK_OK;
    case A_SPAWN: {
        stark_actor_def d;
        memset(&d, 0, sizeof d);
        d.struct_size = sizeof d;
        d.handle = c_handle;
        d.on_start = c_start;
        d.user_data = &child_frees;
        d.free_user_data = count_free;
        stark_spawn_opts o;
        memset(&o, 0, sizeof o);
        o.struct_size = sizeof o;
        o.name = "reentrant-child";
        stark_ref child = 0;
        stark_status st = stark_ctx_spawn(ctx, &d, &o, &child);
        if (st != STARK_OK) return st;
        return stark_ctx_reply(ctx, A_SPAWN, &child, sizeof child);
    }
    case A_REGISTER: {
        CHECK(stark_ctx_self(ctx, &self) == STARK_OK && stark_ctx_runtime(ctx, &r) == STARK_OK);
        CHECK(r == rt);
        stark_status st = stark_register(r, "reentrant-a", self);
        if (st != STARK_OK) return st;
        stark_ref found = 0;
        st = stark_lookup(r, "reentrant-a", &found);
        if (st != STARK_OK) return st;
        CHECK(stark_lookup(r, "reentrant-nobody", &found) == STARK_NOT_FOUND && found == 0);
        CHECK(stark_lookup(r, "reentrant-a", &found) == STARK_OK);
        return stark_ctx_reply(ctx, A_REGISTER, &found, sizeof found);
    }
    case A_ASKB: {
        /* A blocking ask from a worker thread to another actor. */
        stark_reply rep = t_reply();
        stark_status st = stark_ask(rt, ref_b, B_ECHO, m->data, m->len, 2 * T_SEC, &rep);
        if (st != STARK_OK) return st;
        st = stark_ctx_reply(ctx, A_ASKB, rep.data, rep.len);
        stark_reply_free(&rep);
        return st;
    }
    case A_SAVE_CTX:
        saved_ctx = ctx;
        return stark_ctx_reply(ctx, A_SAVE_CTX, NULL, 0);
    case A_SPAWN_TOP: {
        stark_actor_def d;
        memset(&d, 0, sizeof d);
        d.struct_size = sizeof d;
        d.handle = b_handle;
        d.user_data = &top_frees;
        d.free_user_data = count_free;
        stark_ref top = 0;
        stark_status st = stark_spawn(rt, &d, NULL, &top);
        if (st != STARK_OK) return st;
        return stark_ctx_reply(ctx, A_SPAWN_TOP, &top, sizeof top);
    }
    case A_POST: {
        /* Posted in order, delivered after we return; a ctx_send overtakes them. */
        CHECK(stark_ctx_post(ctx, ref_b, B_ORDER, "1", 1) == STARK_OK);
        CHECK(stark_ctx_post(ctx, ref_b, B_ORDER, "2", 1) == STARK_OK);
        CHECK(stark_ctx_send(ctx, ref_b, B_ORDER, "0", 1) == STARK_OK);
        CHECK(stark_ctx_post(ctx, ref_b, B_ORDER, "3", 1) == STARK_OK);
        CHECK(stark_ctx_post(ctx, m->sender != 0 ? m->sender : ref_b + (1ull << 32), 0x7057, "x", 1) == STARK_OK);
        int ok = stark_ctx_post(ctx, ref_b, B_ORDER, NULL, 1) == STARK_INVALID && stark_last_error()[0] != 0 &&
                 stark_ctx_post(ctx, ref_b, B_ORDER, "x", SIZE_MAX) == STARK_TOO_LARGE &&
                 stark_ctx_post(ctx, ref_b, B_ORDER, "x", 65 * 1024) == STARK_TOO_LARGE &&
                 stark_ctx_post(0, ref_b, B_ORDER, "x", 1) == STARK_INVALID &&
                 stark_ctx_post(ctx + (1ull << 32), ref_b, B_ORDER, "x", 1) == STARK_INVALID;
        if (ok) atomic_fetch_add(&post_checks_ok, 1);
        return STARK_OK;
    }
    case A_POST_FULL: {
        /* 1024 messages per handler call, then STARK_FULL with a message. */
        int n = 0;
        stark_status st;
        while ((st = stark_ctx_post(ctx, ref_b, B_COUNT, NULL, 0)) == STARK_OK && n < 5000) n++;
        if (st == STARK_FULL && n == 1024 && strstr(stark_last_error(), "stark_ctx_post") != NULL)
            atomic_fetch_add(&post_full_ok, 1);
        return STARK_OK;
    }
    case A_SEND_SELF:
        CHECK(stark_ctx_self(ctx, &self) == STARK_OK);
        return stark_ctx_send(ctx, self, A_SELF_LOOP, m->data, m->len);
    case A_SELF_LOOP: {
        int left;
        memcpy(&left, m->data, sizeof left);
        atomic_fetch_add(&self_loops, 1);
        if (left == 0) return STARK_OK;
        left--;
        CHECK(stark_ctx_self(ctx, &self) == STARK_OK);
        return stark_ctx_send(ctx, self, A_SELF_LOOP, &left, sizeof left);
    }
    }
    return STARK_INVALID;
}

static stark_actor_def def(stark_handler_fn h, stark_hook_fn start, atomic_int *frees) {
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = h;
    d.on_start = start;
    d.user_data = frees;
    d.free_user_data = count_free;
    return d;
}

static void stale_ctx(stark_ctx c) {
    stark_ref ref = 0;
    stark_runtime r = 0;
    stark_buffer b = 0;
    EXPECT(stark_ctx_self(c, &ref), STARK_INVALID);
    EXPECT(stark_ctx_runtime(c, &r), STARK_INVALID);
    CHECK(ref == 0 && r == 0);
    EXPECT(stark_ctx_send(c, ref_b, B_ECHO, "x", 1), STARK_INVALID);
    EXPECT(stark_ctx_reply(c, 1, "x", 1), STARK_INVALID);
    EXPECT(stark_ctx_take_buffer(c, &b), STARK_INVALID);
    EXPECT(stark_ctx_fail(c, "late"), STARK_INVALID);
    EXPECT(stark_ctx_reply_buffer(c, 1, 0), STARK_INVALID);
    EXPECT(stark_ctx_send_buffer(c, ref_b, 1, 0), STARK_INVALID);
    EXPECT(stark_ctx_post(c, ref_b, B_ORDER, "x", 1), STARK_INVALID);
    stark_dbuf db = 0;
    EXPECT(stark_ctx_take_device_buffer(c, &db), STARK_INVALID);
    atomic_int frees = 0;
    stark_actor_def d = def(c_handle, NULL, &frees);
    stark_ref child = 0;
    EXPECT(stark_ctx_spawn(c, &d, NULL, &child), STARK_INVALID);
    CHECK(child == 0);
    CHECK(atomic_load(&frees) == 0); /* STARK_INVALID: nothing taken */
}

int main(void) {
    t_begin("t_reentrant");
    stark_config cfg;
    stark_config_init(&cfg);
    cfg.workers = 2;
    OK(stark_runtime_new(&cfg, &rt));
    stark_actor_def da = def(a_handle, a_start, &a_frees), db = def(b_handle, NULL, &b_frees);
    OK(stark_spawn(rt, &da, NULL, &ref_a));
    OK(stark_spawn(rt, &db, NULL, &ref_b));
    stark_reply r = t_reply();

    /* ctx_self / ctx_runtime */
    OK(stark_ask(rt, ref_a, A_SELF, NULL, 0, 2 * T_SEC, &r));
    uint64_t ids[2];
    CHECK(r.len == sizeof ids);
    memcpy(ids, r.data, sizeof ids);
    CHECK(ids[0] == ref_a && ids[1] == rt);
    OK(stark_reply_free(&r));

    /* ctx_send to B; B's ctx_reply is a message back to A with B as sender. */
    for (int i = 0; i < 100; i++) OK(stark_send(rt, ref_a, A_PINGB, "ping", 4));
    WAIT_UNTIL(atomic_load(&pongs) == 100, 5000);
    CHECK(atomic_load(&b_sender) == ref_a && atomic_load(&pong_sender) == ref_b);

    /* A blocking ask from inside a handler. */
    OK(stark_ask(rt, ref_a, A_ASKB, "nested", 6, 2 * T_SEC, &r));
    CHECK(r.tag == A_ASKB && r.len == 6 && memcmp(r.data, "nested", 6) == 0);
    OK(stark_reply_free(&r));

    /* ctx_send to itself, 1000 hops. */
    int hops = 999;
    OK(stark_send(rt, ref_a, A_SEND_SELF, &hops, sizeof hops));
    WAIT_UNTIL(atomic_load(&self_loops) == 1000, 5000);

    /* register/lookup from inside. */
    OK(stark_ask(rt, ref_a, A_REGISTER, NULL, 0, 2 * T_SEC, &r));
    stark_ref found;
    memcpy(&found, r.data, sizeof found);
    CHECK(found == ref_a);
    OK(stark_reply_free(&r));
    OK(stark_lookup(rt, "reentrant-a", &found));
    CHECK(found == ref_a);
    /* A second registration of the same live actor's name fails inside too. */
    EXPECT(stark_ask(rt, ref_a, A_REGISTER, NULL, 0, 2 * T_SEC, &r), STARK_FAILED);
    WAIT_UNTIL(stark_alive(rt, ref_a) == STARK_OK, 2000);

    /* ctx_spawn: a child with a name, supervised by A. */
    OK(stark_ask(rt, ref_a, A_SPAWN, NULL, 0, 2 * T_SEC, &r));
    stark_ref child;
    CHECK(r.len == sizeof child);
    memcpy(&child, r.data, sizeof child);
    OK(stark_reply_free(&r));
    CHECK(child != 0 && child != ref_a);
    OK(stark_lookup(rt, "reentrant-child", &found));
    CHECK(found == child);
    WAIT_UNTIL(atomic_load(&child_starts) == 1, 2000);
    OK(stark_ask(rt, child, C_ECHO, "c", 1, 2 * T_SEC, &r));
    OK(stark_reply_free(&r));
    EXPECT(stark_ask(rt, child, C_FAIL, NULL, 0, 2 * T_SEC, &r), STARK_FAILED);
    CHECK(strstr(stark_last_error(), "child fails on purpose") != NULL);
    WAIT_UNTIL(atomic_load(&child_starts) == 2, 2000); /* restarted by its parent */
    OK(stark_ask(rt, child, C_ECHO, "c", 1, 2 * T_SEC, &r));
    OK(stark_reply_free(&r));
    CHECK(atomic_load(&child_frees) == 0);
    OK(stark_alive(rt, ref_a)); /* the parent did not fail */

    /* ctx_post */
    OK(stark_send(rt, ref_a, A_POST, NULL, 0));
    WAIT_UNTIL(atomic_load(&b_order_len) == 4, 2000);
    CHECKF(memcmp(b_order, "0123", 4) == 0, "arrival order %.4s, want 0123", b_order);
    CHECK(atomic_load(&post_checks_ok) == 1);
    WAIT_UNTIL(t_dead_letters(rt, ref_b + (1ull << 32), STARK_NOT_FOUND, 0x7057, NULL, 0) == 1, 2000);
    OK(stark_send(rt, ref_a, A_POST_FULL, NULL, 0));
    WAIT_UNTIL(atomic_load(&b_counted) == 1024, 2000);
    CHECK(atomic_load(&post_full_ok) == 1);
    /* Outside a callback there is nothing to post to. */
    EXPECT(stark_ctx_post(saved_hook_ctx, ref_b, B_ORDER, "x", 1), STARK_INVALID);

    /* A top-level spawn from a worker thread. */
    OK(stark_ask(rt, ref_a, A_SPAWN_TOP, NULL, 0, 2 * T_SEC, &r));
    stark_ref top;
    memcpy(&top, r.data, sizeof top);
    OK(stark_reply_free(&r));
    OK(stark_ask(rt, top, B_ECHO, "t", 1, 2 * T_SEC, &r));
    OK(stark_reply_free(&r));

    /* A ctx after its callback returned, a hook's ctx, forged ones. */
    OK(stark_ask(rt, ref_a, A_SAVE_CTX, NULL, 0, 2 * T_SEC, &r));
    OK(stark_reply_free(&r));
    CHECK(saved_ctx != 0 && saved_hook_ctx != 0);
    stale_ctx(saved_ctx);
    stale_ctx(saved_hook_ctx);
    stale_ctx(0);
    stale_ctx(saved_ctx + (1ull << 32));
    stale_ctx(saved_ctx ^ 0xffffffffull);
    stale_ctx(0xdeadbeefcafef00dull);
    stale_ctx(UINT64_MAX);

    /* Stopping A stops its child first; each user data freed once. */
    OK(stark_stop(rt, ref_a));
    WAIT_UNTIL(atomic_load(&a_frees) == 1 && atomic_load(&child_frees) == 1, 2000);
    EXPECT(stark_alive(rt, child), STARK_NOT_FOUND);
    EXPECT(stark_lookup(rt, "reentrant-a", &found), STARK_NOT_FOUND);
    EXPECT(stark_lookup(rt, "reentrant-child", &found), STARK_NOT_FOUND);
    OK(stark_alive(rt, top)); /* a top-level actor is nobody's child */
    OK(stark_runtime_free(rt));
    CHECK(atomic_load(&b_frees) == 1 && atomic_load(&top_frees) == 1);
    CHECK(atomic_load(&a_frees) == 1 && atomic_load(&child_frees) == 1);
    t_end();
    return 0;
}
