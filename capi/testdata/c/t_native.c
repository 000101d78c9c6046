/*
 * t_native: native actors. Spawn with and without options; ask/reply
 * round trips and the fields a handler sees; send; try_send and the three
 * overflow policies against a full mailbox (a handler blocked on a
 * condition); on_start/on_stop; free_user_data exactly once, after the
 * stop hook; a handler that calls stark_ctx_fail and returns a failure:
 * the ask gets STARK_FAILED with the reason in stark_last_error(), the
 * failure is dead-lettered, the actor restarts (on_start again) keeping
 * its mailbox and answers again; a start hook that fails; a second reply;
 * stop (graceful) and kill; a taken name.
 */
#include "t.h"

enum { T_ECHO = 1, T_COUNT, T_GET, T_BLOCK, T_FAIL, T_FAIL_PLAIN, T_NOREPLY, T_TWICE, T_FIELDS, T_REPLY_NOBODY };

typedef struct state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_open; /* T_BLOCK waits until it is 1 */
    int in_block;  /* handlers inside T_BLOCK */
    atomic_int starts, stops, frees, handled, fail_starts;
    atomic_int stop_before_free; /* 1 when the stop hook ran before free_user_data */
    atomic_int hook_checks_ok;
    atomic_llong sum;
    atomic_int last_reply_st, second_reply_st;
    atomic_int concurrent, max_concurrent;
    int last_seen; /* T_COUNT payloads in order */
    int out_of_order;
} state;

typedef struct ud {
    state *s;
    uint32_t magic;
} ud;

static void state_init(state *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->gate_open = 1;
    s->last_seen = -1;
}

static void gate(state *s, int open) {
    pthread_mutex_lock(&s->mu);
    s->gate_open = open;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static int in_block(state *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->in_block;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static stark_status on_start(stark_ctx ctx, void *p) {
    ud *u = p;
    CHECK(u->magic == 0xC0FFEE);
    state *s = u->s;
    /* Hooks have a ctx but no message. */
    stark_ref self = 0;
    stark_runtime rt = 0;
    stark_buffer b = 0;
    if (stark_ctx_self(ctx, &self) == STARK_OK && self != 0 && stark_ctx_runtime(ctx, &rt) == STARK_OK && rt != 0 &&
        stark_ctx_reply(ctx, 1, "x", 1) == STARK_NOT_FOUND && stark_ctx_take_buffer(ctx, &b) == STARK_NOT_FOUND)
        atomic_fetch_add(&s->hook_checks_ok, 1);
    atomic_fetch_add(&s->starts, 1);
    if (atomic_load(&s->fail_starts) > 0) {
        atomic_fetch_sub(&s->fail_starts, 1);
        stark_ctx_fail(ctx, "on_start refused on purpose");
        return STARK_INTERNAL;
    }
    return STARK_OK;
}

static stark_status on_stop(stark_ctx ctx, void *p) {
    (void)ctx;
    atomic_fetch_add(&((ud *)p)->s->stops, 1);
    return STARK_OK;
}

static void free_ud(void *p) {
    ud *u = p;
    CHECK(u->magic == 0xC0FFEE);
    state *s = u->s;
    if (atomic_load(&s->stops) > 0) atomic_store(&s->stop_before_free, 1);
    u->magic = 0;
    atomic_fetch_add(&s->frees, 1);
    free(u);
}

static stark_status handle(stark_ctx ctx, const stark_msg *m, void *p) {
    ud *u = p;
    state *s = u->s;
    CHECK(u->magic == 0xC0FFEE);
    CHECK(m->struct_size == sizeof *m);
    CHECK(m->data != NULL);
    int c = atomic_fetch_add(&s->concurrent, 1) + 1;
    if (c > atomic_load(&s->max_concurrent)) atomic_store(&s->max_concurrent, c);
    atomic_fetch_add(&s->handled, 1);
    stark_status ret = STARK_OK;
    switch (m->tag) {
    case T_ECHO:
        ret = stark_ctx_reply(ctx, m->tag, m->data, m->len);
        break;
    case T_COUNT: {
        int v;
        CHECK(m->len == sizeof v && m->is_ask == 0 && m->corr_id == 0 && m->sender == 0);
        memcpy(&v, m->data, sizeof v);
        if (v != s->last_seen + 1) s->out_of_order++;
        s->last_seen = v;
        atomic_fetch_add(&s->sum, v);
        break;
    }
    case T_GET: {
        uint64_t n = (uint64_t)atomic_load(&s->sum);
        ret = stark_ctx_reply(ctx, T_GET, &n, sizeof n);
        break;
    }
    case T_BLOCK:
        pthread_mutex_lock(&s->mu);
        s->in_block++;
        while (!s->gate_open) pthread_cond_wait(&s->cv, &s->mu);
        s->in_block--;
        pthread_mutex_unlock(&s->mu);
        break;
    case T_FAIL:
        CHECK(stark_ctx_fail(ctx, "boom: T_FAIL refused on purpose") == STARK_OK);
        ret = STARK_DENIED;
        break;
    case T_FAIL_PLAIN:
        ret = STARK_TOO_LARGE; /* no stark_ctx_fail: the status alone is the reason */
        break;
    case T_NOREPLY:
        break;
    case T_TWICE:
        atomic_store(&s->last_reply_st, stark_ctx_reply(ctx, 1, "one", 3));
        atomic_store(&s->second_reply_st, stark_ctx_reply(ctx, 2, "two", 3));
        break;
    case T_FIELDS: {
        /* An ask from outside: a sender of 0, a correlation id, is_ask. */
        int ok = m->is_ask == 1 && m->corr_id != 0 && m->sender == 0 && m->buffer == 0 && m->len == 5 &&
                 memcmp(m->data, "hello", 5) == 0 && m->reserved == 0;
        ret = stark_ctx_reply(ctx, ok ? 1 : 0, NULL, 0);
        break;
    }
    case T_REPLY_NOBODY:
        /* A plain send from outside: nobody to answer. */
        atomic_store(&s->last_reply_st, stark_ctx_reply(ctx, 1, "x", 1));
        break;
    default:
        T_FAIL("unexpected tag %u", m->tag);
    }
    atomic_fetch_sub(&s->concurrent, 1);
    return ret;
}

static stark_actor_def def_for(state *s) {
    ud *u = malloc(sizeof *u);
    u->s = s;
    u->magic = 0xC0FFEE;
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = handle;
    d.on_start = on_start;
    d.on_stop = on_stop;
    d.user_data = u;
    d.free_user_data = free_ud;
    return d;
}

static stark_spawn_opts opts_init(void) {
    stark_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    return o;
}

static stark_runtime rt;

static void basics(void) {
    state s;
    state_init(&s);
    stark_actor_def d = def_for(&s);
    stark_ref ref = 0;
    OK(stark_spawn(rt, &d, NULL, &ref));
    CHECK(ref != 0);
    OK(stark_alive(rt, ref));
    WAIT_UNTIL(atomic_load(&s.starts) == 1, 2000);
    CHECK(atomic_load(&s.hook_checks_ok) == 1);

    /* ask/reply round trip, a 64 KiB payload too. */
    stark_reply r = t_reply();
    OK(stark_ask(rt, ref, T_ECHO, "ping", 4, 2 * T_SEC, &r));
    CHECK(r.tag == T_ECHO && r.len == 4 && memcmp(r.data, "ping", 4) == 0 && r.sender == ref && r.buffer == 0);
    OK(stark_reply_free(&r));
    CHECK(r.data == NULL && r.len == 0);
    size_t big = 64 * 1024;
    unsigned char *payload = malloc(big);
    for (size_t i = 0; i < big; i++) payload[i] = (unsigned char)(i * 31 + 7);
    OK(stark_ask(rt, ref, T_ECHO, payload, big, 2 * T_SEC, &r));
    CHECK(r.len == big && memcmp(r.data, payload, big) == 0);
    OK(stark_reply_free(&r));
    free(payload);
    OK(stark_ask(rt, ref, T_ECHO, NULL, 0, 2 * T_SEC, &r)); /* empty: data NULL with len 0 is fine */
    CHECK(r.len == 0);
    OK(stark_reply_free(&r));
    OK(stark_ask(rt, ref, T_FIELDS, "hello", 5, 2 * T_SEC, &r));
    CHECK(r.tag == 1);
    OK(stark_reply_free(&r));

    /* send: 1000 messages from one sender arrive in order. */
    for (int i = 0; i < 1000; i++) OK(stark_send(rt, ref, T_COUNT, &i, sizeof i));
    OK(stark_ask(rt, ref, T_GET, NULL, 0, 2 * T_SEC, &r));
    uint64_t sum;
    CHECK(r.len == sizeof sum);
    memcpy(&sum, r.data, sizeof sum);
    CHECK(sum == 999 * 1000 / 2);
    OK(stark_reply_free(&r));
    CHECK(s.out_of_order == 0 && s.last_seen == 999);
    CHECK(atomic_load(&s.max_concurrent) == 1); /* one message at a time */

    /* A second reply to the same ask: STARK_TIMEOUT (the ask ended). */
    OK(stark_ask(rt, ref, T_TWICE, NULL, 0, 2 * T_SEC, &r));
    CHECK(r.tag == 1 && r.len == 3 && memcmp(r.data, "one", 3) == 0);
    OK(stark_reply_free(&r));
    WAIT_UNTIL(atomic_load(&s.second_reply_st) != 0, 2000);
    CHECK(atomic_load(&s.last_reply_st) == STARK_OK && atomic_load(&s.second_reply_st) == STARK_TIMEOUT);
    /* A reply to a plain send from outside: nobody to answer. */
    atomic_store(&s.last_reply_st, -1);
    OK(stark_send(rt, ref, T_REPLY_NOBODY, NULL, 0));
    WAIT_UNTIL(atomic_load(&s.last_reply_st) != -1, 2000);
    CHECK(atomic_load(&s.last_reply_st) == STARK_NOT_FOUND);

    /* An ask the handler does not answer times out. */
    uint64_t t0 = t_now_ns();
    EXPECT(stark_ask(rt, ref, T_NOREPLY, NULL, 0, 100 * T_MS, &r), STARK_TIMEOUT);
    CHECK(t_now_ns() - t0 >= 90 * T_MS);
    CHECK(r.data == NULL && r.len == 0 && r.buffer == 0);

    /* Graceful stop: queued messages are handled first; then on_stop, then
     * free_user_data, once. */
    gate(&s, 0);
    OK(stark_send(rt, ref, T_BLOCK, NULL, 0));
    WAIT_UNTIL(in_block(&s) == 1, 2000);
    atomic_store(&s.sum, 0);
    s.last_seen = -1;
    for (int i = 0; i < 10; i++) OK(stark_send(rt, ref, T_COUNT, &i, sizeof i));
    OK(stark_stop(rt, ref));
    CHECK(atomic_load(&s.stops) == 0 && atomic_load(&s.frees) == 0);
    gate(&s, 1);
    WAIT_UNTIL(atomic_load(&s.frees) == 1, 2000);
    CHECK(atomic_load(&s.sum) == 45 && s.last_seen == 9);
    CHECK(atomic_load(&s.stops) == 1 && atomic_load(&s.starts) == 1);
    CHECK(atomic_load(&s.stop_before_free) == 1);
    EXPECT(stark_alive(rt, ref), STARK_NOT_FOUND);
    EXPECT(stark_stop(rt, ref), STARK_NOT_FOUND);
    EXPECT(stark_kill(rt, ref), STARK_NOT_FOUND);
    t_sleep_ms(20);
    CHECK(atomic_load(&s.frees) == 1);
}

static void kill_drops_queue(void) {
    state s;
    state_init(&s);
    stark_actor_def d = def_for(&s);
    stark_ref ref;
    OK(stark_spawn(rt, &d, NULL, &ref));
    gate(&s, 0);
    OK(stark_send(rt, ref, T_BLOCK, NULL, 0));
    WAIT_UNTIL(in_block(&s) == 1, 2000);
    for (int i = 0; i < 10; i++) OK(stark_send(rt, ref, 0xDEAD, &i, sizeof i));
    OK(stark_kill(rt, ref));
    gate(&s, 1);
    WAIT_UNTIL(atomic_load(&s.frees) == 1, 2000);
    CHECK(atomic_load(&s.handled) == 1); /* only the message in hand */
    CHECK(atomic_load(&s.stops) == 1);
    /* The queued ten were dead-lettered as stopped. */
    CHECK(t_dead_letters(rt, ref, STARK_STOPPED, 0xDEAD, NULL, 0) == 10);
}

/* A full mailbox under each overflow policy. */
typedef struct waiter {
    stark_ref to;
    atomic_int done;
    stark_status st;
} waiter;

static void *wait_sender(void *p) {
    waiter *w = p;
    int v = 0;
    w->st = stark_send(rt, w->to, T_COUNT, &v, sizeof v);
    atomic_store(&w->done, 1);
    return NULL;
}

static void full_mailbox(void) {
    state s;
    state_init(&s);
    stark_actor_def d = def_for(&s);
    stark_spawn_opts o = opts_init();
    o.mailbox_capacity = 4;
    o.overflow = STARK_OVERFLOW_FAIL;
    stark_ref ref;
    OK(stark_spawn(rt, &d, &o, &ref));
    gate(&s, 0);
    OK(stark_send(rt, ref, T_BLOCK, NULL, 0));
    WAIT_UNTIL(in_block(&s) == 1, 2000);
    int accepted = 0;
    stark_status st = STARK_OK;
    for (int i = 0; i < 100; i++) {
        st = stark_try_send(rt, ref, T_COUNT, &accepted, sizeof accepted);
        if (st != STARK_OK) break;
        accepted++;
    }
    CHECKF(st == STARK_FULL && accepted >= 3 && accepted <= 8, /* the message in hand may count */ "try_send: %d accepted, then %d", accepted, (int)st);
    CHECK(strlen(stark_last_error()) > 0);
    EXPECT(stark_try_send(rt, ref, T_COUNT, "full", 4), STARK_FULL);
    EXPECT(stark_send(rt, ref, T_COUNT, "full", 4), STARK_FULL); /* the FAIL policy */
    stark_reply r = t_reply();
    EXPECT(stark_ask(rt, ref, T_GET, NULL, 0, T_SEC, &r), STARK_FULL);
    CHECK(t_dead_letters(rt, ref, STARK_FULL, T_COUNT, NULL, 0) >= 3);
    gate(&s, 1);
    stark_counters c = T_QUIESCE(rt, ref);
    CHECK(c.accepted == (uint64_t)accepted + 1 && c.processed == c.accepted && c.dead_lettered == 0);
    CHECK(atomic_load(&s.sum) == (long long)accepted * (accepted - 1) / 2);
    OK(stark_stop(rt, ref));
    WAIT_UNTIL(atomic_load(&s.frees) == 1, 2000);

    /* DROP: stark_send reports OK and the message becomes a dead letter;
     * try_send still says STARK_FULL. */
    state_init(&s);
    d = def_for(&s);
    o.overflow = STARK_OVERFLOW_DROP;
    OK(stark_spawn(rt, &d, &o, &ref));
    gate(&s, 0);
    OK(stark_send(rt, ref, T_BLOCK, NULL, 0));
    WAIT_UNTIL(in_block(&s) == 1, 2000);
    accepted = 0;
    while (stark_try_send(rt, ref, T_COUNT, &accepted, sizeof accepted) == STARK_OK) accepted++;
    for (int i = 0; i < 5; i++) OK(stark_send(rt, ref, 0xD409, "drop", 4));
    EXPECT(stark_try_send(rt, ref, T_COUNT, "full", 4), STARK_FULL);
    CHECK(t_dead_letters(rt, ref, STARK_FULL, 0xD409, NULL, 0) == 5);
    gate(&s, 1);
    c = T_QUIESCE(rt, ref);
    CHECK(c.processed == (uint64_t)accepted + 1);
    OK(stark_stop(rt, ref));
    WAIT_UNTIL(atomic_load(&s.frees) == 1, 2000);

    /* WAIT: a sender blocks up to overflow_wait_ns, then STARK_FULL; a
     * blocked sender gets in when room appears. */
    state_init(&s);
    d = def_for(&s);
    o.overflow = STARK_OVERFLOW_WAIT;
    o.overflow_wait_ns = 80 * T_MS;
    OK(stark_spawn(rt, &d, &o, &ref));
    gate(&s, 0);
    OK(stark_send(rt, ref, T_BLOCK, NULL, 0));
    WAIT_UNTIL(in_block(&s) == 1, 2000);
    accepted = 0;
    while (stark_try_send(rt, ref, T_COUNT, &accepted, sizeof accepted) == STARK_OK) accepted++;
    uint64_t t0 = t_now_ns();
    EXPECT(stark_send(rt, ref, T_COUNT, "wait", 4), STARK_FULL);
    CHECKF(t_now_ns() - t0 >= 60 * T_MS, "waited only %llu ns", (unsigned long long)(t_now_ns() - t0));
    OK(stark_stop(rt, ref));
    gate(&s, 1);
    WAIT_UNTIL(atomic_load(&s.frees) == 1, 2000);

    state_init(&s);
    d = def_for(&s);
    o.overflow_wait_ns = 10 * T_SEC;
    OK(stark_spawn(rt, &d, &o, &ref));
    gate(&s, 0);
    OK(stark_send(rt, ref, T_BLOCK, NULL, 0));
    WAIT_UNTIL(in_block(&s) == 1, 2000);
    while (stark_try_send(rt, ref, T_NOREPLY, NULL, 0) == STARK_OK) {
    }
    waiter w = {.to = ref};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, wait_sender, &w) == 0);
    t_sleep_ms(50);
    CHECK(atomic_load(&w.done) == 0); /* still blocked */
    gate(&s, 1);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(w.st == STARK_OK);
    c = T_QUIESCE(rt, ref);
    CHECK(c.dead_lettered == 0);
    OK(stark_stop(rt, ref));
    WAIT_UNTIL(atomic_load(&s.frees) == 1, 2000);
}

static void failures(void) {
    state s;
    state_init(&s);
    stark_actor_def d = def_for(&s);
    stark_ref ref;
    OK(stark_spawn(rt, &d, NULL, &ref));
    WAIT_UNTIL(atomic_load(&s.starts) == 1, 2000);
    stark_reply r = t_reply();
    EXPECT(stark_ask(rt, ref, T_FAIL, "f", 1, 2 * T_SEC, &r), STARK_FAILED);
    CHECKF(strstr(stark_last_error(), "boom: T_FAIL refused on purpose") != NULL, "last error: %s",
           stark_last_error());
    CHECK(r.data == NULL && r.len == 0);
    /* Restarted: on_start again (the failed incarnation's on_stop too), the
     * user data kept, the same ref answering. */
    WAIT_UNTIL(atomic_load(&s.starts) == 2, 2000);
    OK(stark_alive(rt, ref));
    OK(stark_ask(rt, ref, T_ECHO, "again", 5, 2 * T_SEC, &r));
    CHECK(r.len == 5 && memcmp(r.data, "again", 5) == 0);
    OK(stark_reply_free(&r));
    CHECK(atomic_load(&s.frees) == 0);
    char reason[256] = "";
    /* (The ask may end a moment before the dead letter is filed.) */
    WAIT_UNTIL(t_dead_letters(rt, ref, STARK_DENIED, T_FAIL, reason, sizeof reason) == 1, 2000); /* the cause: the status returned */
    CHECKF(strstr(reason, "boom: T_FAIL refused on purpose") != NULL, "dead letter reason: %s", reason);

    /* The status alone names the failure when stark_ctx_fail was not called. */
    EXPECT(stark_ask(rt, ref, T_FAIL_PLAIN, NULL, 0, 2 * T_SEC, &r), STARK_FAILED);
    CHECKF(strstr(stark_last_error(), stark_status_name(STARK_TOO_LARGE)) != NULL, "last error: %s",
           stark_last_error());
    CHECK(strstr(stark_last_error(), "boom") == NULL); /* the earlier reason does not stick */
    WAIT_UNTIL(atomic_load(&s.starts) == 3, 2000);

    /* A failing send keeps the mailbox: what was queued behind it is handled. */
    gate(&s, 0);
    OK(stark_send(rt, ref, T_BLOCK, NULL, 0));
    WAIT_UNTIL(in_block(&s) == 1, 2000);
    atomic_store(&s.sum, 0);
    s.last_seen = -1;
    OK(stark_send(rt, ref, T_FAIL, NULL, 0));
    for (int i = 0; i < 20; i++) OK(stark_send(rt, ref, T_COUNT, &i, sizeof i));
    gate(&s, 1);
    WAIT_UNTIL(atomic_load(&s.starts) == 4, 2000);
    OK(stark_ask(rt, ref, T_GET, NULL, 0, 2 * T_SEC, &r));
    uint64_t sum;
    memcpy(&sum, r.data, sizeof sum);
    CHECK(sum == 190);
    OK(stark_reply_free(&r));

    stark_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    OK(stark_runtime_metrics(rt, &m));
    CHECK(m.failures >= 3 && m.restarts >= 3);
    CHECK(atomic_load(&s.frees) == 0);
    OK(stark_stop(rt, ref));
    WAIT_UNTIL(atomic_load(&s.frees) == 1, 2000);
    CHECK(atomic_load(&s.starts) == 4);
    CHECKF(atomic_load(&s.stops) >= 1, "stops %d", atomic_load(&s.stops));

    /* A start hook that fails once: the actor is restarted and works. */
    state_init(&s);
    atomic_store(&s.fail_starts, 1);
    d = def_for(&s);
    stark_status st = stark_spawn(rt, &d, NULL, &ref);
    CHECKF(st == STARK_OK, "spawn with a failing on_start: %d %s", (int)st, stark_last_error());
    WAIT_UNTIL(atomic_load(&s.starts) == 2, 2000);
    OK(stark_ask(rt, ref, T_ECHO, "up", 2, 2 * T_SEC, &r));
    OK(stark_reply_free(&r));
    OK(stark_stop(rt, ref));
    WAIT_UNTIL(atomic_load(&s.frees) == 1, 2000);
}

static void names_in_opts(void) {
    state s1, s2;
    state_init(&s1);
    state_init(&s2);
    stark_actor_def d1 = def_for(&s1), d2 = def_for(&s2);
    stark_spawn_opts o = opts_init();
    o.name = "native-one";
    stark_ref a, b = 99, found;
    OK(stark_spawn(rt, &d1, &o, &a));
    OK(stark_lookup(rt, "native-one", &found));
    CHECK(found == a);
    /* The name is taken: STARK_INVALID, and nothing was taken. */
    EXPECT(stark_spawn(rt, &d2, &o, &b), STARK_INVALID);
    CHECK(b == 0);
    t_sleep_ms(20);
    CHECKF(atomic_load(&s2.frees) == 0, "free_user_data ran after STARK_INVALID");
    /* The same def, now with a free name, works. */
    o.name = "native-two";
    OK(stark_spawn(rt, &d2, &o, &b));
    OK(stark_lookup(rt, "native-two", &found));
    CHECK(found == b);
    OK(stark_stop(rt, a));
    OK(stark_stop(rt, b));
    WAIT_UNTIL(atomic_load(&s1.frees) == 1 && atomic_load(&s2.frees) == 1, 2000);
    /* Released with its actor. */
    WAIT_UNTIL(stark_lookup(rt, "native-one", &found) == STARK_NOT_FOUND, 2000);
    EXPECT(stark_lookup(rt, "native-one", &found), STARK_NOT_FOUND);
    CHECK(found == 0);
}

int main(void) {
    t_begin("t_native");
    stark_config cfg;
    stark_config_init(&cfg);
    cfg.workers = 2;
    OK(stark_runtime_new(&cfg, &rt));
    basics();
    kill_drops_queue();
    full_mailbox();
    failures();
    names_in_opts();
    OK(stark_runtime_free(rt));
    t_end();
    return 0;
}
