/*
 * t_runtime: the runtime's life cycle. stark_abi_version, statuses and
 * stark_last_error; stark_config_init; stark_runtime_new with NULL and with
 * a config; metrics and conservation counters; dead letters (a stale ref's
 * message has cause STARK_NOT_FOUND); shutdown (idempotent, then
 * STARK_STOPPED everywhere but metrics/counters); free (then
 * STARK_NOT_FOUND), double free; user data left for LeakSanitizer to
 * account for.
 */
#include "t.h"

static atomic_int handled, freed, stopped;

static stark_status echo(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ud;
    atomic_fetch_add(&handled, 1);
    if (m->is_ask) return stark_ctx_reply(ctx, m->tag, m->data, m->len);
    return STARK_OK;
}
static stark_status on_stop(stark_ctx ctx, void *ud) {
    (void)ctx;
    (void)ud;
    atomic_fetch_add(&stopped, 1);
    return STARK_OK;
}
static void free_ud(void *ud) {
    atomic_fetch_add(&freed, 1);
    free(ud);
}

static stark_actor_def echo_def(void) {
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = echo;
    d.on_stop = on_stop;
    d.user_data = malloc(16); /* freed by free_ud, exactly once */
    d.free_user_data = free_ud;
    return d;
}

static void statuses(void) {
    CHECK(STARK_ABI_VERSION == ((1 << 16) | 0));
    CHECK(stark_abi_version() == STARK_ABI_VERSION);
    CHECK(strcmp(stark_status_name(STARK_OK), "ok") == 0);
    for (int s = STARK_OK; s <= STARK_FAILED; s++) {
        const char *n = stark_status_name(s);
        CHECK(n != NULL && n[0] != 0 && strcmp(n, "unknown status") != 0);
    }
    CHECK(stark_status_name(-1) != NULL && stark_status_name(12) != NULL && stark_status_name(INT32_MAX) != NULL);
    CHECK(strcmp(stark_status_name(12), stark_status_name(-5)) == 0);
}

/* A thread that never failed a call has an empty last error. */
static void *fresh_thread(void *arg) {
    (void)arg;
    const char *e = stark_last_error();
    CHECK(e != NULL && e[0] == 0);
    EXPECT(stark_config_init(NULL), STARK_INVALID);
    CHECK(strstr(stark_last_error(), "stark_config_init") != NULL);
    return NULL;
}

static void last_error_is_per_thread(void) {
    EXPECT(stark_runtime_new(NULL, NULL), STARK_INVALID);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", stark_last_error());
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fresh_thread, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(strcmp(mine, stark_last_error()) == 0); /* the other thread's failure did not touch ours */
    /* A successful call leaves the last error alone. */
    CHECK(stark_abi_version() == STARK_ABI_VERSION);
    CHECK(strcmp(mine, stark_last_error()) == 0);
}

static void null_config(void) {
    stark_runtime rt = 0;
    OK(stark_runtime_new(NULL, &rt));
    CHECK(rt != 0);
    stark_metrics m;
    memset(&m, 0xff, sizeof m);
    m.struct_size = sizeof m;
    OK(stark_runtime_metrics(rt, &m));
    CHECK(m.struct_size == sizeof m);
    CHECK(m.workers >= 1);
    CHECK(m.pool_limit_bytes == 1ull << 30); /* the default: 1 GiB */
    CHECK(m.pool_live_bytes == 0);
    CHECK(m.wasm_instances == 0 && m.wasm_compiles == 0);
    /* The default ask timeout is 5 s and the default mailbox 4096: an actor
     * takes 4096 messages while it cannot run... not checked here (timing). */
    stark_ref ref;
    stark_actor_def d = echo_def();
    OK(stark_spawn(rt, &d, NULL, &ref));
    stark_reply r = t_reply();
    OK(stark_ask(rt, ref, 7, "x", 1, 0 /* the default timeout */, &r));
    CHECK(r.tag == 7 && r.len == 1 && memcmp(r.data, "x", 1) == 0 && r.sender == ref && r.buffer == 0);
    OK(stark_reply_free(&r));
    OK(stark_runtime_free(rt));
    CHECK(atomic_load(&freed) == 1);
}

static void with_config(void) {
    stark_config cfg;
    memset(&cfg, 0xab, sizeof cfg);
    OK(stark_config_init(&cfg));
    CHECK(cfg.struct_size == sizeof cfg);
    CHECK(cfg.workers == 0 && cfg.mailbox_capacity == 0 && cfg.budget == 0 && cfg.max_actors == 0);
    CHECK(cfg.ask_timeout_ns == 0 && cfg.pool_limit_bytes == 0 && cfg.wasm_cache_dir == NULL);
    CHECK(cfg.wasm_memory_pages == 0 && cfg.wasm_deadline_ns == 0);
    cfg.workers = 2;
    cfg.mailbox_capacity = 64;
    cfg.budget = 8;
    cfg.max_actors = 8; /* the runtime's own actors count too */
    cfg.ask_timeout_ns = 300 * T_MS;
    cfg.shutdown_timeout_ns = 2 * T_SEC;
    cfg.pool_limit_bytes = 1 << 20;
    cfg.wasm_memory_pages = 16;
    cfg.wasm_deadline_ns = T_SEC;
    stark_runtime rt = 0;
    OK(stark_runtime_new(&cfg, &rt));

    stark_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    OK(stark_runtime_metrics(rt, &m));
    CHECK(m.workers == 2);
    CHECK(m.pool_limit_bytes == 1 << 20);

    /* max_actors: spawning stops with STARK_EXHAUSTED at the limit. */
    stark_ref refs[16];
    int n = 0;
    stark_status st = STARK_OK;
    for (; n < 16; n++) {
        stark_actor_def d = echo_def();
        st = stark_spawn(rt, &d, NULL, &refs[n]);
        if (st != STARK_OK) break;
    }
    CHECKF(st == STARK_EXHAUSTED && n > 0 && n < 8, "spawned %d, then %d (%s)", n, (int)st, stark_last_error());
    CHECK(refs[n] == 0);
    WAIT_UNTIL(atomic_load(&freed) == 2, 2000); /* the refused def's user data was freed at once */
    stark_reply r = t_reply();
    OK(stark_ask(rt, refs[0], 1, NULL, 0, 0, &r));
    CHECK(r.len == 0 && r.data != NULL); /* an empty reply: data is still a pointer to free */
    OK(stark_reply_free(&r));
    OK(stark_runtime_free(rt));
    CHECK(atomic_load(&freed) == 2 + n);
}

/* A small struct_size is refused; a struct_size that only reaches the
 * first fields (an older header) is accepted and the rest is defaults. */
static void struct_sizes(void) {
    stark_config cfg;
    stark_runtime rt = 0;
    OK(stark_config_init(&cfg));
    cfg.struct_size = 0;
    EXPECT(stark_runtime_new(&cfg, &rt), STARK_INVALID);
    CHECK(rt == 0);
    cfg.struct_size = 4;
    EXPECT(stark_runtime_new(&cfg, &rt), STARK_INVALID);
    /* An old header's config: up to max_actors; pool_limit_bytes beyond it
     * must be ignored (garbage in the caller's memory). */
    size_t old = offsetof(stark_config, ask_timeout_ns);
    stark_config *p = malloc(sizeof *p);
    memset(p, 0xA5, sizeof *p); /* garbage past struct_size (pointers too): never read */
    p->struct_size = (uint32_t)old;
    p->workers = 1;
    p->mailbox_capacity = p->budget = p->max_actors = p->reserved0 = 0;
    OK(stark_runtime_new(p, &rt));
    stark_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    OK(stark_runtime_metrics(rt, &m));
    CHECK(m.workers == 1);
    CHECK(m.pool_limit_bytes == 1ull << 30);
    /* metrics into an older, smaller struct: nothing past struct_size is written. */
    size_t msz = offsetof(stark_metrics, failures);
    stark_metrics *mm = malloc(sizeof *mm);
    memset(mm, 0x5a, sizeof *mm);
    mm->struct_size = (uint32_t)msz;
    OK(stark_runtime_metrics(rt, mm));
    CHECK(mm->workers == 1);
    const unsigned char *tail = (const unsigned char *)mm + msz;
    for (size_t i = 0; i < sizeof *mm - msz; i++) CHECK(tail[i] == 0x5a);
    mm->struct_size = 4;
    EXPECT(stark_runtime_metrics(rt, mm), STARK_INVALID);
    free(mm);
    stark_counters c;
    memset(&c, 0, sizeof c);
    c.struct_size = 8;
    EXPECT(stark_counters_get(rt, 0, &c), STARK_INVALID);
    EXPECT(stark_counters_get(rt, 0, NULL), STARK_INVALID);
    OK(stark_runtime_free(rt));
    free(p);
}

static void counters_and_dead_letters(void) {
    stark_runtime rt;
    OK(stark_runtime_new(NULL, &rt));
    int base_freed = atomic_load(&freed);
    stark_ref a, b;
    stark_actor_def da = echo_def(), db = echo_def();
    OK(stark_spawn(rt, &da, NULL, &a));
    OK(stark_spawn(rt, &db, NULL, &b));
    for (int i = 0; i < 100; i++) OK(stark_send(rt, a, 1, &i, sizeof i));
    for (int i = 0; i < 50; i++) OK(stark_send(rt, b, 1, NULL, 0));
    stark_counters ca = T_QUIESCE(rt, a), cb = T_QUIESCE(rt, b);
    CHECK(ca.accepted == 100 && ca.processed == 100 && ca.dead_lettered == 0 && ca.queued == 0);
    CHECK(cb.accepted == 50 && cb.processed == 50);
    stark_counters all = T_QUIESCE(rt, 0);
    CHECK(all.accepted >= 150 && all.processed >= 150);

    stark_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    OK(stark_runtime_metrics(rt, &m));
    CHECK(m.actors >= 2);
    CHECK(m.accepted == m.processed + m.dead_lettered + m.queued);
    CHECK(m.processed >= 150);

    /* A stale ref: stop a and wait until it is gone. */
    OK(stark_stop(rt, a));
    WAIT_UNTIL(stark_alive(rt, a) == STARK_NOT_FOUND, 2000);
    WAIT_UNTIL(atomic_load(&freed) == base_freed + 1, 2000);
    EXPECT(stark_alive(rt, a), STARK_NOT_FOUND);
    EXPECT(stark_send(rt, a, 0x5157, "late", 4), STARK_NOT_FOUND);
    EXPECT(stark_try_send(rt, a, 0x5158, "late", 4), STARK_NOT_FOUND);
    stark_reply r = t_reply();
    EXPECT(stark_ask(rt, a, 0x5159, "late", 4, T_SEC, &r), STARK_NOT_FOUND);
    CHECK(r.data == NULL && r.len == 0);
    EXPECT(stark_counters_get(rt, a, &(stark_counters){.struct_size = sizeof(stark_counters)}), STARK_NOT_FOUND);
    char reason[256] = "";
    CHECK(t_dead_letters(rt, a, STARK_NOT_FOUND, 0x5157, reason, sizeof reason) == 1);
    CHECK(reason[0] != 0);
    CHECK(t_dead_letters(rt, a, STARK_NOT_FOUND, 0x5158, NULL, 0) == 1);
    CHECK(t_dead_letters(rt, a, STARK_NOT_FOUND, 0x5159, NULL, 0) == 1);
    /* The record's other fields. */
    stark_dead_letter dl[4];
    size_t n = 99;
    memset(dl, 0, sizeof dl); /* struct_size 0: sizeof(stark_dead_letter) */
    OK(stark_dead_letters(rt, dl, 4, &n));
    CHECK(n >= 3 && n <= 4);
    stark_dead_letter *last = &dl[n - 1];
    CHECK(last->tag == 0x5159 && last->target == a && last->sender == 0 && last->size == 4);
    CHECK(last->at_unix_ns > 1600000000ll * 1000000000ll);
    CHECK(memchr(last->reason, 0, sizeof last->reason) != NULL);
    OK(stark_dead_letters(rt, NULL, 0, &n));
    CHECK(n == 0);
    EXPECT(stark_dead_letters(rt, NULL, 4, &n), STARK_INVALID);
    EXPECT(stark_dead_letters(rt, dl, 4, NULL), STARK_INVALID);
    dl[0].struct_size = 8;
    EXPECT(stark_dead_letters(rt, dl, 4, &n), STARK_INVALID);
    /* An older, smaller element: a stride of struct_size, nothing written past. */
    size_t small = offsetof(stark_dead_letter, reason) + 16;
    unsigned char *raw = malloc(small * 3 + 8);
    memset(raw, 0x77, small * 3 + 8);
    ((stark_dead_letter *)raw)->struct_size = (uint32_t)small;
    OK(stark_dead_letters(rt, (stark_dead_letter *)raw, 3, &n));
    CHECK(n == 3);
    for (size_t i = 0; i < 8; i++) CHECK(raw[small * 3 + i] == 0x77);
    stark_dead_letter third;
    memcpy(&third, raw + 2 * small, small);
    CHECK(third.tag == 0x5159 && third.cause == STARK_NOT_FOUND);
    CHECK(memchr(third.reason, 0, 16) != NULL); /* truncated and terminated */
    free(raw);

    /* Conservation holds over the whole runtime at quiescence. */
    all = T_QUIESCE(rt, 0);
    CHECK(all.accepted == all.processed + all.dead_lettered + all.queued);

    /* Shutdown: on_stop runs, user data is freed, and the runtime refuses. */
    int stopped_before = atomic_load(&stopped);
    OK(stark_runtime_shutdown(rt, 2 * T_SEC));
    CHECK(atomic_load(&stopped) == stopped_before + 1);
    CHECK(atomic_load(&freed) == base_freed + 2);
    OK(stark_runtime_shutdown(rt, 0)); /* idempotent */
    stark_ref x = 77;
    stark_actor_def dx = echo_def();
    EXPECT(stark_spawn(rt, &dx, NULL, &x), STARK_STOPPED);
    CHECK(x == 0);
    /* STARK_STOPPED is not STARK_INVALID: the runtime owns the user data. */
    WAIT_UNTIL(atomic_load(&freed) == base_freed + 3, 2000);
    EXPECT(stark_send(rt, b, 1, "z", 1), STARK_STOPPED);
    EXPECT(stark_try_send(rt, b, 1, "z", 1), STARK_STOPPED);
    EXPECT(stark_ask(rt, b, 1, "z", 1, T_SEC, &r), STARK_STOPPED);
    EXPECT(stark_alive(rt, b), STARK_STOPPED);
    EXPECT(stark_stop(rt, b), STARK_STOPPED);
    EXPECT(stark_kill(rt, b), STARK_STOPPED);
    stark_buffer buf;
    EXPECT(stark_buffer_alloc(rt, 16, &buf), STARK_STOPPED);
    EXPECT(stark_register(rt, "n", b), STARK_STOPPED);
    EXPECT(stark_publish(rt, "t", 1, NULL, 0, NULL), STARK_STOPPED);
    EXPECT(stark_send_after(rt, T_MS, b, 1, NULL, 0, NULL), STARK_STOPPED);
    stark_poller pl;
    EXPECT(stark_poller_new(rt, 0, &pl), STARK_STOPPED);
    /* Metrics and counters still answer. */
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    OK(stark_runtime_metrics(rt, &m));
    CHECK(m.accepted == m.processed + m.dead_lettered + m.queued);
    stark_counters after;
    memset(&after, 0, sizeof after);
    after.struct_size = sizeof after;
    OK(stark_counters_get(rt, 0, &after));
    CHECK(after.accepted == after.processed + after.dead_lettered + after.queued);
    dl[0].struct_size = sizeof dl[0];
    OK(stark_dead_letters(rt, dl, 4, &n));

    /* Free, then everything is STARK_NOT_FOUND, including a second free. */
    OK(stark_runtime_free(rt));
    EXPECT(stark_runtime_free(rt), STARK_NOT_FOUND);
    EXPECT(stark_runtime_shutdown(rt, 0), STARK_NOT_FOUND);
    EXPECT(stark_runtime_metrics(rt, &m), STARK_NOT_FOUND);
    EXPECT(stark_counters_get(rt, 0, &after), STARK_NOT_FOUND);
    EXPECT(stark_dead_letters(rt, dl, 4, &n), STARK_NOT_FOUND);
    EXPECT(stark_send(rt, b, 1, NULL, 0), STARK_NOT_FOUND);
    dx = echo_def(); /* the first dx's user data is gone (taken and freed) */
    EXPECT(stark_spawn(rt, &dx, NULL, &x), STARK_NOT_FOUND);
    /* Not STARK_INVALID, so the def's user data was taken and freed at once. */
    CHECK(atomic_load(&freed) == base_freed + 4);
}

/* Free without shutdown: it shuts down first, running on_stop and freeing
 * user data; a second runtime is independent of the first. */
static void free_without_shutdown(void) {
    stark_runtime r1, r2;
    OK(stark_runtime_new(NULL, &r1));
    OK(stark_runtime_new(NULL, &r2));
    CHECK(r1 != r2);
    int f0 = atomic_load(&freed), s0 = atomic_load(&stopped);
    stark_ref a1, a2;
    stark_actor_def d1 = echo_def(), d2 = echo_def();
    OK(stark_spawn(r1, &d1, NULL, &a1));
    OK(stark_spawn(r2, &d2, NULL, &a2));
    for (int i = 0; i < 1000; i++) OK(stark_send(r1, a1, 1, NULL, 0));
    OK(stark_runtime_free(r1));
    CHECK(atomic_load(&freed) == f0 + 1 && atomic_load(&stopped) == s0 + 1);
    stark_reply r = t_reply();
    OK(stark_ask(r2, a2, 3, "ok", 2, T_SEC, &r));
    CHECK(r.len == 2);
    OK(stark_reply_free(&r));
    OK(stark_reply_free(&r)); /* freeing a freed (zeroed) reply is fine */
    OK(stark_reply_free(NULL));
    OK(stark_runtime_free(r2));
    CHECK(atomic_load(&freed) == f0 + 2);
}

/* User data handed over from a thread that then exits, with plain free()
 * as free_user_data and no count: if the library ever stopped calling
 * free_user_data, nothing but LeakSanitizer would notice, and it does
 * (no stale copy of the pointer is left on a live stack to hide it). */
static void *spawn_and_exit(void *arg) {
    stark_runtime rt = *(stark_runtime *)arg;
    for (int i = 0; i < 4; i++) {
        stark_actor_def d;
        memset(&d, 0, sizeof d);
        d.struct_size = sizeof d;
        d.handle = echo;
        d.user_data = malloc(48 + i);
        d.free_user_data = free;
        stark_ref ref;
        CHECK(stark_spawn(rt, &d, NULL, &ref) == STARK_OK);
    }
    return NULL;
}

static void user_data_for_the_leak_checker(void) {
    stark_runtime rt;
    OK(stark_runtime_new(NULL, &rt));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, spawn_and_exit, &rt) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    OK(stark_runtime_free(rt));
}

int main(void) {
    t_begin("t_runtime");
    statuses();
    last_error_is_per_thread();
    null_config();
    with_config();
    struct_sizes();
    counters_and_dead_letters();
    free_without_shutdown();
    user_data_for_the_leak_checker();
    t_end();
    return 0;
}
