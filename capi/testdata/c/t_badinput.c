/*
 * t_badinput: every bad input gets its documented status, a message in
 * stark_last_error(), and no crash: forged and stale handles of every kind
 * (runtime, ref, buffer, timer, module, poller; ctx is in t_reentrant)
 * for every function that takes one; handles of one runtime used with
 * another; NULL out pointers; NULL data with a length; zero lengths;
 * oversized lengths (SIZE_MAX); struct_size too small, and an older,
 * smaller struct whose fields past struct_size are never read; bad enum
 * values; empty names; double release/free; device buffers and
 * stark_request likewise.
 */
#include "t.h"

static stark_status echo(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ud;
    if (m->is_ask) return stark_ctx_reply(ctx, m->tag, m->data, m->len);
    return STARK_OK;
}

static stark_actor_def echo_def(void) {
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = echo;
    return d;
}

/* Every function that takes a runtime, with arguments that are otherwise
 * fine: each must answer `want` (STARK_NOT_FOUND for a forged runtime). */
static void all_runtime_calls(stark_runtime bad, stark_ref ref, stark_status want) {
    stark_actor_def d = echo_def();
    stark_ref out = 1;
    stark_reply r = t_reply();
    stark_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    stark_counters c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    stark_dead_letter dl[2];
    memset(dl, 0, sizeof dl);
    size_t n = 0;
    uint32_t delivered = 7;
    stark_timer t = 1;
    stark_buffer b = 1;
    void *p = NULL;
    stark_module mod = 1;
    stark_poller pl = 1;
    stark_poll_item items[2];
    stark_poll_result res = {.token = 1};
    stark_child_spec cs;
    memset(&cs, 0, sizeof cs);
    cs.struct_size = sizeof cs;
    cs.def = &d;
    stark_supervisor_spec ss;
    memset(&ss, 0, sizeof ss);
    ss.struct_size = sizeof ss;
    ss.children = &cs;
    ss.n_children = 1;
    static const unsigned char wasm_header[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};

    EXPECT(stark_runtime_shutdown(bad, 0), want);
    EXPECT(stark_runtime_metrics(bad, &m), want);
    EXPECT(stark_counters_get(bad, 0, &c), want);
    EXPECT(stark_dead_letters(bad, dl, 2, &n), want);
    EXPECT(stark_spawn(bad, &d, NULL, &out), want);
    CHECK(out == 0);
    EXPECT(stark_stop(bad, ref), want);
    EXPECT(stark_kill(bad, ref), want);
    EXPECT(stark_alive(bad, ref), want);
    EXPECT(stark_send(bad, ref, 1, "x", 1), want);
    EXPECT(stark_try_send(bad, ref, 1, "x", 1), want);
    EXPECT(stark_send_from(bad, ref, ref, 1, "x", 1), want);
    EXPECT(stark_send_buffer(bad, ref, 1, 0x100000001ull), want);
    EXPECT(stark_ask(bad, ref, 1, "x", 1, T_SEC, &r), want);
    EXPECT(stark_register(bad, "name", ref), want);
    EXPECT(stark_unregister(bad, "name"), want);
    EXPECT(stark_lookup(bad, "name", &out), want);
    EXPECT(stark_subscribe(bad, "topic", ref), want);
    EXPECT(stark_unsubscribe(bad, "topic", ref), want);
    EXPECT(stark_publish(bad, "topic", 1, "x", 1, &delivered), want);
    CHECK(delivered == 0);
    EXPECT(stark_send_after(bad, T_MS, ref, 1, "x", 1, &t), want);
    CHECK(t == 0);
    EXPECT(stark_send_every(bad, T_MS, ref, 1, "x", 1, &t), want);
    EXPECT(stark_timer_cancel(bad, 0x100000001ull), want);
    EXPECT(stark_supervisor_start(bad, &ss, &out), want);
    EXPECT(stark_buffer_alloc(bad, 16, &b), want);
    CHECK(b == 0);
    EXPECT(stark_buffer_data(bad, 0x100000001ull, &p, &n), want);
    EXPECT(stark_buffer_set_len(bad, 0x100000001ull, 0), want);
    EXPECT(stark_buffer_retain(bad, 0x100000001ull), want);
    EXPECT(stark_buffer_release(bad, 0x100000001ull), want);
    EXPECT(stark_wasm_load(bad, wasm_header, sizeof wasm_header, "m", 0, &mod), want);
    CHECK(mod == 0);
    EXPECT(stark_wasm_load_file(bad, "build/wasm/counter-c.wasm", 0, &mod), want);
    EXPECT(stark_wasm_register(bad, "m", 0x100000001ull), want);
    EXPECT(stark_module_free(bad, 0x100000001ull), want);
    EXPECT(stark_spawn_wasm(bad, 0x100000001ull, NULL, NULL, &out), want);
    EXPECT(stark_wasm_upgrade(bad, ref, 0x100000001ull, T_SEC), want);
    EXPECT(stark_poller_new(bad, 4, &pl), want);
    CHECK(pl == 0);
    EXPECT(stark_poller_free(bad, 0x100000001ull), want);
    EXPECT(stark_spawn_polled(bad, 0x100000001ull, NULL, &out), want);
    EXPECT(stark_poll(bad, 0x100000001ull, items, 2, 0, &n), want);
    EXPECT(stark_poll_done(bad, 0x100000001ull, &res, 1), want);
    uint64_t corr = 5;
    EXPECT(stark_request(bad, ref, ref, 1, "x", 1, &corr), want);
    CHECK(corr == 0);
    /* devices */
    stark_backend_info bi[2];
    memset(bi, 0, sizeof bi);
    bi[0].struct_size = sizeof bi[0];
    char name[32];
    uint32_t count = 9;
    stark_device_info di;
    memset(&di, 0, sizeof di);
    di.struct_size = sizeof di;
    stark_dbuf db = 1;
    float f = 0;
    stark_device_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    EXPECT(stark_device_backends(bad, bi, 2, &n), want);
    EXPECT(stark_device_select(bad, "cpu"), want);
    EXPECT(stark_device_backend_name(bad, name, sizeof name), want);
    EXPECT(stark_device_count(bad, &count), want);
    EXPECT(stark_device_get_info(bad, 0, &di), want);
    EXPECT(stark_device_alloc(bad, 0, 64, &db), want);
    CHECK(db == 0);
    EXPECT(stark_device_release(bad, 0x100000001ull), want);
    EXPECT(stark_device_write(bad, 0x100000001ull, 0, &f, sizeof f), want);
    EXPECT(stark_device_read(bad, 0x100000001ull, 0, &f, sizeof f), want);
    EXPECT(stark_device_copy(bad, 0x100000001ull, 0, 0x100000001ull, 0, 4), want);
    EXPECT(stark_device_run(bad, &op), want);
    EXPECT(stark_device_sync(bad, 0), want);
    EXPECT(stark_send_device_buffer(bad, ref, 1, 0x100000001ull), want);
    EXPECT(stark_runtime_free(bad), want);
}

static void forged_runtimes(stark_runtime rt, stark_ref ref) {
    stark_runtime dead;
    OK(stark_runtime_new(NULL, &dead));
    OK(stark_runtime_free(dead));
    const stark_runtime forged[] = {0, 1, UINT64_MAX, dead, rt + (1ull << 32), rt ^ 0xffff0000ull, 0x7fffffff00000002ull,
                                    (uint64_t)UINT32_MAX};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) all_runtime_calls(forged[i], ref, STARK_NOT_FOUND);
}

/* Refs that name nobody, for every call that takes a ref. */
static void forged_refs(stark_runtime rt, stark_ref live) {
    stark_ref gone;
    stark_actor_def d = echo_def();
    OK(stark_spawn(rt, &d, NULL, &gone));
    OK(stark_kill(rt, gone));
    WAIT_UNTIL(stark_alive(rt, gone) == STARK_NOT_FOUND, 2000);
    const stark_ref forged[] = {0, UINT64_MAX, gone, live + (1ull << 32), (live & 0xffffffffull) | (0xfffffffeull << 32),
                                0x00000001fffffff0ull, 0x0000000100ffffffull};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        stark_ref f = forged[i];
        stark_reply r = t_reply();
        stark_counters c;
        memset(&c, 0, sizeof c);
        c.struct_size = sizeof c;
        stark_timer t = 1;
        EXPECT(stark_send(rt, f, 1, "x", 1), STARK_NOT_FOUND);
        EXPECT(stark_try_send(rt, f, 1, "x", 1), STARK_NOT_FOUND);
        EXPECT(stark_send_from(rt, live, f, 1, "x", 1), STARK_NOT_FOUND);
        EXPECT(stark_ask(rt, f, 1, "x", 1, T_SEC, &r), STARK_NOT_FOUND);
        EXPECT(stark_stop(rt, f), STARK_NOT_FOUND);
        EXPECT(stark_kill(rt, f), STARK_NOT_FOUND);
        EXPECT(stark_alive(rt, f), STARK_NOT_FOUND);
        EXPECT(stark_counters_get(rt, f == 0 ? UINT64_MAX : f, &c), STARK_NOT_FOUND); /* (0 is the runtime) */
        EXPECT(stark_register(rt, "forged", f), STARK_NOT_FOUND);
        EXPECT(stark_subscribe(rt, "forged", f), STARK_NOT_FOUND);
        EXPECT(stark_send_after(rt, T_MS, f, 1, "x", 1, &t), STARK_NOT_FOUND);
        CHECK(t == 0);
        EXPECT(stark_send_every(rt, T_MS, f, 1, "x", 1, &t), STARK_NOT_FOUND);
        stark_buffer b;
        OK(stark_buffer_alloc(rt, 8, &b));
        EXPECT(stark_send_buffer(rt, f, 1, b), STARK_NOT_FOUND);
        EXPECT(stark_buffer_release(rt, b), STARK_NOT_FOUND); /* moved and released */
    }
    /* (A ref is only meaningful with its own runtime: refs of another
     * runtime are not checked here; see the report in capi/ctest.mk.) */
}

static void null_pointers_and_lengths(stark_runtime rt, stark_ref ref) {
    stark_actor_def d = echo_def();
    stark_reply r = t_reply();
    stark_ref out;
    uint32_t delivered;
    /* NULL outs */
    EXPECT(stark_config_init(NULL), STARK_INVALID);
    EXPECT(stark_runtime_new(NULL, NULL), STARK_INVALID);
    EXPECT(stark_spawn(rt, &d, NULL, NULL), STARK_INVALID);
    EXPECT(stark_spawn(rt, NULL, NULL, &out), STARK_INVALID);
    EXPECT(stark_ask(rt, ref, 1, "x", 1, T_SEC, NULL), STARK_INVALID);
    EXPECT(stark_runtime_metrics(rt, NULL), STARK_INVALID);
    EXPECT(stark_counters_get(rt, 0, NULL), STARK_INVALID);
    EXPECT(stark_dead_letters(rt, NULL, 1, &(size_t){0}), STARK_INVALID);
    EXPECT(stark_lookup(rt, "x", NULL), STARK_INVALID);
    EXPECT(stark_buffer_alloc(rt, 1, NULL), STARK_INVALID);
    EXPECT(stark_poller_new(rt, 1, NULL), STARK_INVALID);
    EXPECT(stark_supervisor_start(rt, NULL, &out), STARK_INVALID);
    EXPECT(stark_wasm_load(rt, "\0asm", 4, NULL, 0, NULL), STARK_INVALID);
    EXPECT(stark_spawn_wasm(rt, 1, NULL, NULL, NULL), STARK_INVALID);
    OK(stark_reply_free(NULL));
    /* NULL data with a length */
    EXPECT(stark_send(rt, ref, 1, NULL, 1), STARK_INVALID);
    EXPECT(stark_try_send(rt, ref, 1, NULL, 5), STARK_INVALID);
    EXPECT(stark_send_from(rt, 0, ref, 1, NULL, 5), STARK_INVALID);
    EXPECT(stark_ask(rt, ref, 1, NULL, 5, T_SEC, &r), STARK_INVALID);
    EXPECT(stark_publish(rt, "t", 1, NULL, 5, &delivered), STARK_INVALID);
    EXPECT(stark_send_after(rt, T_MS, ref, 1, NULL, 5, NULL), STARK_INVALID);
    EXPECT(stark_send_every(rt, T_MS, ref, 1, NULL, 5, NULL), STARK_INVALID);
    EXPECT(stark_wasm_load(rt, NULL, 5, NULL, 0, &(stark_module){0}), STARK_INVALID);
    /* Zero lengths are fine, with or without a pointer. */
    OK(stark_send(rt, ref, 1, NULL, 0));
    OK(stark_send(rt, ref, 1, "", 0));
    OK(stark_try_send(rt, ref, 1, NULL, 0));
    OK(stark_ask(rt, ref, 1, NULL, 0, T_SEC, &r));
    CHECK(r.len == 0);
    OK(stark_reply_free(&r));
    OK(stark_publish(rt, "t", 1, NULL, 0, NULL));
    OK(stark_send_after(rt, T_MS, ref, 1, NULL, 0, NULL));
    EXPECT(stark_wasm_load(rt, "", 0, NULL, 0, &(stark_module){0}), STARK_INVALID); /* no module */
    /* Oversized lengths: refused before anything is read. */
    static const char small[4] = "abc";
    EXPECT(stark_send(rt, ref, 1, small, SIZE_MAX), STARK_TOO_LARGE);
    EXPECT(stark_try_send(rt, ref, 1, small, SIZE_MAX), STARK_TOO_LARGE);
    EXPECT(stark_send_from(rt, 0, ref, 1, small, (size_t)1 << 40), STARK_TOO_LARGE);
    EXPECT(stark_ask(rt, ref, 1, small, SIZE_MAX, T_SEC, &r), STARK_TOO_LARGE);
    EXPECT(stark_publish(rt, "t", 1, small, SIZE_MAX, NULL), STARK_TOO_LARGE);
    EXPECT(stark_send_after(rt, T_MS, ref, 1, small, SIZE_MAX, NULL), STARK_TOO_LARGE);
    EXPECT(stark_send_every(rt, T_MS, ref, 1, small, SIZE_MAX, NULL), STARK_TOO_LARGE);
    EXPECT(stark_buffer_alloc(rt, SIZE_MAX, &(stark_buffer){0}), STARK_TOO_LARGE);
    EXPECT(stark_buffer_alloc(rt, SIZE_MAX / 2, &(stark_buffer){0}), STARK_TOO_LARGE);
    EXPECT(stark_wasm_load(rt, small, SIZE_MAX, NULL, 0, &(stark_module){0}), STARK_TOO_LARGE);
    /* Extreme durations are clamped, not overflowed. */
    stark_timer t;
    OK(stark_send_after(rt, UINT64_MAX, ref, 1, NULL, 0, &t));
    OK(stark_timer_cancel(rt, t));
    OK(stark_send_every(rt, UINT64_MAX, ref, 1, NULL, 0, &t));
    OK(stark_timer_cancel(rt, t));
    OK(stark_ask(rt, ref, 1, "x", 1, UINT64_MAX, &r));
    OK(stark_reply_free(&r));
}

/* A def from an older header: struct_size stops after handle; the fields
 * past it hold garbage the library must never read (calling it would crash). */
static stark_status old_handle(stark_ctx ctx, const stark_msg *m, void *ud) {
    CHECK(ud == NULL); /* user_data was past struct_size */
    return stark_ctx_reply(ctx, m->tag, m->data, m->len);
}

static void struct_sizes_and_enums(stark_runtime rt) {
    stark_ref out = 5;
    stark_actor_def d = echo_def();
    d.struct_size = 0;
    EXPECT(stark_spawn(rt, &d, NULL, &out), STARK_INVALID);
    CHECK(out == 0);
    d.struct_size = 8;
    EXPECT(stark_spawn(rt, &d, NULL, &out), STARK_INVALID);
    d = echo_def();
    d.handle = NULL;
    EXPECT(stark_spawn(rt, &d, NULL, &out), STARK_INVALID);
    size_t old_def = offsetof(stark_actor_def, on_start);
    stark_actor_def *od = malloc(sizeof *od);
    memset(od, 0xA5, sizeof *od); /* garbage past struct_size */
    od->struct_size = (uint32_t)old_def;
    od->flags = 0;
    od->handle = old_handle;
    OK(stark_spawn(rt, od, NULL, &out));
    free(od);
    stark_reply r = t_reply();
    OK(stark_ask(rt, out, 3, "old", 3, T_SEC, &r));
    CHECK(r.len == 3);
    OK(stark_reply_free(&r));
    OK(stark_stop(rt, out));

    d = echo_def();
    stark_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = 4;
    EXPECT(stark_spawn(rt, &d, &o, &out), STARK_INVALID);
    o.struct_size = sizeof o;
    o.overflow = 3;
    EXPECT(stark_spawn(rt, &d, &o, &out), STARK_INVALID);
    o.overflow = UINT32_MAX;
    EXPECT(stark_spawn(rt, &d, &o, &out), STARK_INVALID);
    o.overflow = STARK_OVERFLOW_DROP;
    o.name = "";
    EXPECT(stark_spawn(rt, &d, &o, &out), STARK_INVALID); /* an empty name */
    /* An older spawn_opts (up to name): overflow and the rest are not read. */
    stark_spawn_opts *oo = malloc(sizeof *oo);
    memset(oo, 0xA5, sizeof *oo);
    oo->struct_size = (uint32_t)offsetof(stark_spawn_opts, overflow);
    oo->mailbox_capacity = 8;
    oo->name = NULL;
    OK(stark_spawn(rt, &d, oo, &out));
    free(oo);
    OK(stark_stop(rt, out));

    r.struct_size = 8;
    EXPECT(stark_ask(rt, out, 1, NULL, 0, T_SEC, &r), STARK_INVALID);
    r.struct_size = 0;
    EXPECT(stark_ask(rt, out, 1, NULL, 0, T_SEC, &r), STARK_INVALID);
    stark_metrics m;
    memset(&m, 0, sizeof m);
    EXPECT(stark_runtime_metrics(rt, &m), STARK_INVALID);
    stark_counters c;
    memset(&c, 0, sizeof c);
    EXPECT(stark_counters_get(rt, 0, &c), STARK_INVALID);

    stark_config cfg;
    stark_config_init(&cfg);
    cfg.wasm_memory_pages = 65537;
    stark_runtime bad = 9;
    EXPECT(stark_runtime_new(&cfg, &bad), STARK_INVALID);
    CHECK(bad == 0);

    /* Empty and over-long names everywhere a name is taken. */
    EXPECT(stark_register(rt, "", 1), STARK_INVALID);
    EXPECT(stark_unregister(rt, ""), STARK_INVALID);
    EXPECT(stark_lookup(rt, "", &out), STARK_INVALID);
    EXPECT(stark_subscribe(rt, "", 1), STARK_INVALID);
    EXPECT(stark_unsubscribe(rt, "", 1), STARK_INVALID);
    EXPECT(stark_publish(rt, "", 1, NULL, 0, NULL), STARK_INVALID);
    EXPECT(stark_wasm_load_file(rt, "", 0, &(stark_module){0}), STARK_INVALID);
    stark_child_spec cs;
    memset(&cs, 0, sizeof cs);
    cs.struct_size = sizeof cs;
    cs.def = &d;
    stark_supervisor_spec ss;
    memset(&ss, 0, sizeof ss);
    ss.struct_size = sizeof ss;
    ss.children = &cs;
    ss.n_children = 1;
    ss.name = "";
    EXPECT(stark_supervisor_start(rt, &ss, &out), STARK_INVALID);
    ss.name = NULL;
    cs.name = "";
    EXPECT(stark_supervisor_start(rt, &ss, &out), STARK_INVALID);

    /* Older, smaller supervisor and child specs: the fields past
     * struct_size hold garbage the library must not read. */
    stark_supervisor_spec *os = malloc(sizeof *os);
    stark_child_spec *oc = malloc(sizeof *oc);
    memset(os, 0xA5, sizeof *os);
    memset(oc, 0xA5, sizeof *oc);
    os->struct_size = (uint32_t)offsetof(stark_supervisor_spec, name);
    os->strategy = STARK_ONE_FOR_ONE;
    os->max_restarts = 0;
    os->backoff = STARK_BACKOFF_NONE;
    os->period_ns = os->backoff_ns = os->backoff_max_ns = 0;
    os->jitter = 0;
    os->children = oc;
    os->n_children = 1;
    oc->struct_size = (uint32_t)offsetof(stark_child_spec, shutdown_timeout_ns);
    oc->restart = STARK_PERMANENT;
    oc->name = NULL;
    oc->def = &d;
    oc->module = 0;
    oc->wasm_opts = NULL;
    OK(stark_supervisor_start(rt, os, &out));
    OK(stark_stop(rt, out));
    free(os);
    free(oc);
}

static void double_release(stark_runtime rt) {
    stark_buffer b;
    OK(stark_buffer_alloc(rt, 8, &b));
    OK(stark_buffer_release(rt, b));
    EXPECT(stark_buffer_release(rt, b), STARK_NOT_FOUND);
    stark_poller p;
    OK(stark_poller_new(rt, 1, &p));
    OK(stark_poller_free(rt, p));
    EXPECT(stark_poller_free(rt, p), STARK_NOT_FOUND);
    stark_timer t;
    OK(stark_send_after(rt, 10 * T_SEC, 0x0, 1, NULL, 0, &t) == STARK_NOT_FOUND ? STARK_OK : STARK_INTERNAL);
    stark_runtime r2;
    OK(stark_runtime_new(NULL, &r2));
    OK(stark_runtime_free(r2));
    EXPECT(stark_runtime_free(r2), STARK_NOT_FOUND);
    EXPECT(stark_runtime_shutdown(r2, 0), STARK_NOT_FOUND);
}

/* Device buffers that name nothing, and bad device arguments, on the
 * built-in cpu backend (stark_config.device = "cpu": plugins are not
 * even probed; their own tests are elsewhere). */
static void devices(stark_runtime rt, stark_ref ref) {
    stark_dbuf good, gone;
    OK(stark_device_alloc(rt, 0, 64, &good));
    OK(stark_device_alloc(rt, 0, 64, &gone));
    OK(stark_device_release(rt, gone));
    EXPECT(stark_device_release(rt, gone), STARK_NOT_FOUND); /* double release */
    const stark_dbuf forged[] = {0, UINT64_MAX, gone, good + (1ull << 32)};
    float f[4] = {1, 2, 3, 4};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        stark_dbuf d = forged[i];
        EXPECT(stark_device_release(rt, d), STARK_NOT_FOUND);
        EXPECT(stark_device_write(rt, d, 0, f, sizeof f), STARK_NOT_FOUND);
        EXPECT(stark_device_read(rt, d, 0, f, sizeof f), STARK_NOT_FOUND);
        EXPECT(stark_device_copy(rt, d, 0, good, 0, 4), STARK_NOT_FOUND);
        EXPECT(stark_device_copy(rt, good, 0, d, 0, 4), STARK_NOT_FOUND);
        EXPECT(stark_send_device_buffer(rt, ref, 1, d), STARK_NOT_FOUND);
    }
    /* Ranges and arguments. */
    OK(stark_device_write(rt, good, 0, f, sizeof f));
    OK(stark_device_copy(rt, good, 16, good, 0, 16));
    float back[8];
    OK(stark_device_read(rt, good, 0, back, sizeof back));
    CHECK(back[4] == 1 && back[7] == 4);
    EXPECT(stark_device_write(rt, good, 60, f, sizeof f), STARK_INVALID);
    EXPECT(stark_device_write(rt, good, UINT64_MAX, f, 1), STARK_INVALID);
    EXPECT(stark_device_read(rt, good, 0, back, SIZE_MAX), STARK_INVALID);
    EXPECT(stark_device_write(rt, good, 0, NULL, 4), STARK_INVALID);
    EXPECT(stark_device_read(rt, good, 0, NULL, 4), STARK_INVALID);
    EXPECT(stark_device_copy(rt, good, 0, good, 32, 64), STARK_INVALID);
    EXPECT(stark_device_copy(rt, good, UINT64_MAX, good, 0, 2), STARK_INVALID);
    stark_dbuf out = 3;
    EXPECT(stark_device_alloc(rt, 0, 64, NULL), STARK_INVALID);
    EXPECT(stark_device_alloc(rt, 999, 64, &out), STARK_NOT_FOUND);
    CHECK(out == 0);
    EXPECT(stark_device_get_info(rt, 999, &(stark_device_info){.struct_size = sizeof(stark_device_info)}), STARK_NOT_FOUND);
    EXPECT(stark_device_get_info(rt, 0, NULL), STARK_INVALID);
    EXPECT(stark_device_count(rt, NULL), STARK_INVALID);
    EXPECT(stark_device_backends(rt, NULL, 1, &(size_t){0}), STARK_INVALID);
    EXPECT(stark_device_backend_name(rt, NULL, 8), STARK_INVALID);
    EXPECT(stark_device_run(rt, NULL), STARK_INVALID);
    stark_device_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = 4;
    EXPECT(stark_device_run(rt, &op), STARK_INVALID);
    EXPECT(stark_device_sync(rt, 999), STARK_NOT_FOUND);
    /* A device buffer of one runtime is unknown to another. */
    stark_runtime other;
    OK(stark_runtime_new(NULL, &other));
    EXPECT(stark_device_read(other, good, 0, back, 4), STARK_NOT_FOUND);
    EXPECT(stark_device_release(other, good), STARK_NOT_FOUND);
    OK(stark_runtime_free(other));
    /* Sent to a stale ref: moved and released whatever the result. */
    EXPECT(stark_send_device_buffer(rt, ref + (1ull << 32), 1, good), STARK_NOT_FOUND);
    EXPECT(stark_device_release(rt, good), STARK_NOT_FOUND);
}

/* stark_request's own arguments. */
static void requests(stark_runtime rt, stark_ref ref) {
    uint64_t corr = 7;
    EXPECT(stark_request(rt, ref, ref, 1, "x", 1, NULL), STARK_INVALID);
    EXPECT(stark_request(rt, 0, ref, 1, "x", 1, &corr), STARK_INVALID); /* nobody to reply to */
    CHECK(corr == 0);
    EXPECT(stark_request(rt, ref, ref, 1, NULL, 1, &corr), STARK_INVALID);
    EXPECT(stark_request(rt, ref, ref, 1, "x", SIZE_MAX, &corr), STARK_TOO_LARGE);
    EXPECT(stark_request(rt, ref, ref + (1ull << 32), 1, "x", 1, &corr), STARK_NOT_FOUND);
    CHECK(corr == 0);
}

/* Handles of one runtime (buffers, timers, pollers) are unknown to another. */
static void cross_runtime(stark_runtime rt, stark_ref ref) {
    stark_runtime other;
    OK(stark_runtime_new(NULL, &other));
    stark_buffer b;
    OK(stark_buffer_alloc(rt, 8, &b));
    void *p;
    size_t n;
    EXPECT(stark_buffer_data(other, b, &p, &n), STARK_NOT_FOUND);
    EXPECT(stark_buffer_set_len(other, b, 1), STARK_NOT_FOUND);
    EXPECT(stark_buffer_retain(other, b), STARK_NOT_FOUND);
    EXPECT(stark_buffer_release(other, b), STARK_NOT_FOUND);
    OK(stark_buffer_release(rt, b));
    stark_timer t;
    OK(stark_send_after(rt, 10 * T_SEC, ref, 1, NULL, 0, &t));
    EXPECT(stark_timer_cancel(other, t), STARK_NOT_FOUND);
    OK(stark_timer_cancel(rt, t));
    stark_poller pl;
    OK(stark_poller_new(rt, 4, &pl));
    stark_poll_item items[1];
    stark_poll_result res = {.token = 1};
    stark_ref out;
    EXPECT(stark_poll(other, pl, items, 1, 0, &n), STARK_NOT_FOUND);
    EXPECT(stark_poll_done(other, pl, &res, 1), STARK_NOT_FOUND);
    EXPECT(stark_spawn_polled(other, pl, NULL, &out), STARK_NOT_FOUND);
    EXPECT(stark_poller_free(other, pl), STARK_NOT_FOUND);
    OK(stark_poller_free(rt, pl));
    OK(stark_runtime_free(other));
}

int main(void) {
    t_begin("t_badinput");
    stark_runtime rt;
    stark_config cfg;
    OK(stark_config_init(&cfg));
    cfg.device = "cpu";
    OK(stark_runtime_new(&cfg, &rt));
    stark_ref ref;
    stark_actor_def d = echo_def();
    OK(stark_spawn(rt, &d, NULL, &ref));
    forged_runtimes(rt, ref);
    forged_refs(rt, ref);
    null_pointers_and_lengths(rt, ref);
    struct_sizes_and_enums(rt);
    double_release(rt);
    cross_runtime(rt, ref);
    devices(rt, ref);
    requests(rt, ref);
    /* After all that, the runtime still works. */
    stark_reply r = t_reply();
    OK(stark_ask(rt, ref, 1, "fine", 4, T_SEC, &r));
    CHECK(r.len == 4 && memcmp(r.data, "fine", 4) == 0);
    OK(stark_reply_free(&r));
    stark_counters c = T_QUIESCE(rt, 0);
    CHECK(c.accepted == c.processed + c.dead_lettered + c.queued);
    OK(stark_runtime_free(rt));
    t_end();
    return 0;
}
