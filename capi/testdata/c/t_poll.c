/*
 * t_poll: polled actors. A poller and three polled actors; one C thread
 * loops on stark_poll (with a timeout) and answers in batches with
 * stark_poll_done: replies to asks, nothing for sends, a failure for one
 * message (that ask gets STARK_FAILED with the reason, the actor restarts:
 * a STARK_POLL_STARTED item arrives again). STARTED/STOPPED events;
 * stark_send_from (a polled actor as sender, the answer comes back as an
 * item); pooled buffers through a poller; back-pressure: with capacity 16
 * and the poller thread paused, try_send ends in STARK_FULL, and once
 * polling resumes everything accepted is delivered exactly once;
 * stark_poller_free wakes a blocked stark_poll with STARK_STOPPED; a
 * second thread polling at the same time gets STARK_INVALID; bad tokens
 * and arguments; stark_request from a polled actor (the reply comes back
 * as an item with the same corr_id); a polled child of a supervisor
 * (restarted after a failure, STOPPED with its supervisor).
 */
#include "t.h"

enum { P_ECHO = 1, P_SEQ, P_FAIL, P_NOREPLY, P_BUF, P_FROM_NATIVE };
#define N 3

static stark_runtime rt;
static stark_poller poller;
static stark_ref actors[N], native;

/* Kept by the poll thread. */
static atomic_int starts[N], stops[N], batches, max_batch, items_seen;
static atomic_int paused, is_paused, quit;
static atomic_int stopped_status; /* what the last stark_poll returned when the loop ended */
static uint32_t next_seq[N];
static atomic_int seq_errors, seq_count, from_native, buffers_ok;
static atomic_ullong reply_corr, native_saw_corr;

static int index_of(stark_ref r) {
    for (int i = 0; i < N; i++)
        if (actors[i] == r) return i;
    return -1;
}

static void *poll_loop(void *arg) {
    (void)arg;
    stark_poll_item items[64];
    stark_poll_result results[64];
    char replies[64][64];
    for (;;) {
        if (atomic_load(&paused)) {
            atomic_store(&is_paused, 1);
            while (atomic_load(&paused)) t_sleep_ms(1);
            atomic_store(&is_paused, 0);
        }
        size_t n = 99;
        stark_status st = stark_poll(rt, poller, items, 64, 20 * T_MS, &n);
        if (st == STARK_TIMEOUT) {
            CHECK(n == 0);
            if (atomic_load(&quit)) break;
            continue;
        }
        if (st != STARK_OK) {
            CHECK(n == 0);
            atomic_store(&stopped_status, st);
            break;
        }
        CHECK(n >= 1 && n <= 64);
        atomic_fetch_add(&batches, 1);
        if ((int)n > atomic_load(&max_batch)) atomic_store(&max_batch, (int)n);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            stark_poll_item *it = &items[i];
            int a = index_of(it->actor);
            CHECKF(a >= 0, "an item for an unknown actor %llx", (unsigned long long)it->actor);
            atomic_fetch_add(&items_seen, 1);
            if (it->kind == STARK_POLL_STARTED) {
                CHECK(it->token == 0);
                atomic_fetch_add(&starts[a], 1);
                continue;
            }
            if (it->kind == STARK_POLL_STOPPED) {
                CHECK(it->token == 0);
                atomic_fetch_add(&stops[a], 1);
                continue;
            }
            CHECK(it->kind == STARK_POLL_MESSAGE && it->token != 0 && it->data != NULL);
            stark_poll_result *r = &results[k++];
            memset(r, 0, sizeof *r);
            r->token = it->token;
            r->status = STARK_OK;
            switch (it->tag) {
            case P_ECHO:
                CHECK(it->is_ask == 1 && it->len < sizeof replies[0]);
                memcpy(replies[i], it->data, it->len); /* the item's data dies at the next poll */
                r->reply = 1;
                r->tag = P_ECHO;
                r->data = replies[i];
                r->len = it->len;
                break;
            case P_SEQ: {
                uint32_t s;
                CHECK(it->len == sizeof s && it->is_ask == 0);
                memcpy(&s, it->data, sizeof s);
                if (s != next_seq[a]) atomic_fetch_add(&seq_errors, 1);
                next_seq[a] = s + 1;
                atomic_fetch_add(&seq_count, 1);
                break;
            }
            case P_FAIL:
                r->status = STARK_INTERNAL;
                r->data = "polled failure on purpose";
                r->len = strlen(r->data);
                break;
            case P_NOREPLY:
                break;
            case P_BUF: {
                /* The payload is a pooled buffer, now ours. */
                void *p = NULL;
                size_t len = 0;
                CHECK(it->buffer != 0);
                CHECK(stark_buffer_data(rt, it->buffer, &p, &len) == STARK_OK);
                if (p == it->data && len == it->len && len == 3 && memcmp(p, "buf", 3) == 0)
                    atomic_fetch_add(&buffers_ok, 1);
                CHECK(stark_buffer_release(rt, it->buffer) == STARK_OK);
                break;
            }
            case P_FROM_NATIVE:
                CHECK(it->sender == native && it->len == 4 && memcmp(it->data, "back", 4) == 0);
                atomic_store(&reply_corr, it->corr_id);
                atomic_fetch_add(&from_native, 1);
                break;
            default:
                T_FAIL("unexpected tag %u", it->tag);
            }
        }
        if (k > 0) CHECKF(stark_poll_done(rt, poller, results, k) == STARK_OK, "poll_done: %s", stark_last_error());
    }
    return NULL;
}

/* A native actor that answers whoever sent to it. */
static stark_status native_handle(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ud;
    CHECK(m->sender == actors[0] && m->is_ask == 0);
    atomic_store(&native_saw_corr, m->corr_id);
    return stark_ctx_reply(ctx, P_FROM_NATIVE, "back", 4);
}

static void pause_poller(int on) {
    atomic_store(&paused, on);
    if (on) WAIT_UNTIL(atomic_load(&is_paused) == 1, 2000);
}

/* Thread B polls a poller another thread is blocked on. */
typedef struct blocked {
    stark_poller p;
    atomic_int in_poll;
    stark_status st;
    uint64_t took_ns;
} blocked;

static void *poll_blocked(void *arg) {
    blocked *b = arg;
    stark_poll_item items[4];
    size_t n;
    uint64_t t0 = t_now_ns();
    atomic_store(&b->in_poll, 1);
    b->st = stark_poll(rt, b->p, items, 4, 30 * T_SEC, &n);
    b->took_ns = t_now_ns() - t0;
    return NULL;
}

static void exclusive_and_free_wakes(void) {
    blocked b = {0};
    OK(stark_poller_new(rt, 4, &b.p));
    pthread_t th;
    CHECK(pthread_create(&th, NULL, poll_blocked, &b) == 0);
    WAIT_UNTIL(atomic_load(&b.in_poll) == 1, 2000);
    t_sleep_ms(50); /* inside stark_poll by now */
    stark_poll_item items[4];
    size_t n = 9;
    EXPECT(stark_poll(rt, b.p, items, 4, 0, &n), STARK_INVALID); /* another thread is polling */
    CHECK(n == 0);
    EXPECT(stark_poll(rt, b.p, items, 4, 10 * T_MS, &n), STARK_INVALID);
    OK(stark_poller_free(rt, b.p));
    CHECK(pthread_join(th, NULL) == 0);
    CHECKF(b.st == STARK_STOPPED, "the blocked poll returned %d", (int)b.st);
    CHECKF(b.took_ns < 5 * T_SEC, "the blocked poll woke after %llu ns", (unsigned long long)b.took_ns);
    EXPECT(stark_poll(rt, b.p, items, 4, 0, &n), STARK_NOT_FOUND);
    EXPECT(stark_poller_free(rt, b.p), STARK_NOT_FOUND);
    stark_ref r;
    EXPECT(stark_spawn_polled(rt, b.p, NULL, &r), STARK_NOT_FOUND);
}

static void bad_arguments(void) {
    stark_poller p;
    OK(stark_poller_new(rt, 0, &p)); /* 0: the default capacity */
    stark_poll_item items[2];
    size_t n = 5;
    EXPECT(stark_poll(rt, p, items, 2, 0, &n), STARK_TIMEOUT); /* nothing, no wait */
    CHECK(n == 0);
    uint64_t t0 = t_now_ns();
    EXPECT(stark_poll(rt, p, items, 2, 30 * T_MS, &n), STARK_TIMEOUT);
    CHECK(t_now_ns() - t0 >= 25 * T_MS);
    EXPECT(stark_poll(rt, p, NULL, 2, 0, &n), STARK_INVALID);
    EXPECT(stark_poll(rt, p, items, 0, 0, &n), STARK_INVALID);
    EXPECT(stark_poll(rt, p, items, 2, 0, NULL), STARK_INVALID);
    EXPECT(stark_poll(rt, 0, items, 2, 0, &n), STARK_NOT_FOUND);
    EXPECT(stark_poll(rt, p + (1ull << 32), items, 2, 0, &n), STARK_NOT_FOUND);
    stark_poll_result res = {.token = 12345, .status = STARK_OK};
    EXPECT(stark_poll_done(rt, p, &res, 1), STARK_NOT_FOUND);
    OK(stark_poll_done(rt, p, NULL, 0));
    EXPECT(stark_poll_done(rt, p, NULL, 1), STARK_INVALID);
    EXPECT(stark_poll_done(rt, p, &res, SIZE_MAX), STARK_INVALID);
    EXPECT(stark_poll_done(rt, 0, &res, 1), STARK_NOT_FOUND);
    EXPECT(stark_poller_new(rt, 0, NULL), STARK_INVALID);
    stark_poller q = 1;
    EXPECT(stark_poller_new(rt, UINT32_MAX, &q), STARK_INVALID);
    CHECK(q == 0);
    stark_ref r = 1;
    EXPECT(stark_spawn_polled(rt, p, NULL, NULL), STARK_INVALID);
    stark_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = 2;
    EXPECT(stark_spawn_polled(rt, p, &o, &r), STARK_INVALID);
    CHECK(r == 0);
    /* A poller of another runtime. */
    stark_runtime other;
    OK(stark_runtime_new(NULL, &other));
    EXPECT(stark_poll(other, p, items, 2, 0, &n), STARK_NOT_FOUND);
    EXPECT(stark_spawn_polled(other, p, NULL, &r), STARK_NOT_FOUND);
    EXPECT(stark_poller_free(other, p), STARK_NOT_FOUND);
    /* Pollers left open are closed with their runtime. */
    stark_poller left;
    OK(stark_poller_new(other, 8, &left));
    OK(stark_spawn_polled(other, left, NULL, &r));
    OK(stark_send(other, r, 1, "queued", 6));
    OK(stark_runtime_free(other));
    EXPECT(stark_poll(other, left, items, 2, 0, &n), STARK_NOT_FOUND);
    OK(stark_poller_free(rt, p));
}

/* Polls p until an item of kind for an actor comes (others are skipped;
 * messages skipped are given back as done). */
static stark_poll_item poll_until(stark_poller p, uint32_t kind) {
    stark_poll_item items[8];
    uint64_t dl = t_now_ns() + 3 * T_SEC;
    while (t_now_ns() < dl) {
        size_t n = 0;
        stark_status st = stark_poll(rt, p, items, 8, 100 * T_MS, &n);
        if (st == STARK_TIMEOUT) continue;
        CHECKF(st == STARK_OK, "poll: %d %s", (int)st, stark_last_error());
        for (size_t i = 0; i < n; i++) {
            if (items[i].kind == kind) return items[i]; /* (the rest of the batch: events only here) */
            if (items[i].kind == STARK_POLL_MESSAGE) {
                stark_poll_result r = {.token = items[i].token};
                CHECK(stark_poll_done(rt, p, &r, 1) == STARK_OK);
            }
        }
    }
    T_FAIL("no item of kind %u within 3 s", kind);
}

/* A polled child of a supervisor. */
static void polled_child(void) {
    stark_poller p;
    OK(stark_poller_new(rt, 8, &p));
    stark_child_spec cs;
    memset(&cs, 0, sizeof cs);
    cs.struct_size = sizeof cs;
    cs.name = "polled-child";
    cs.poller = p;
    stark_supervisor_spec s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.children = &cs;
    s.n_children = 1;
    stark_ref sup, child;
    /* Exactly one of def, module and poller. */
    cs.module = 0x100000001ull;
    EXPECT(stark_supervisor_start(rt, &s, &sup), STARK_INVALID);
    cs.module = 0;
    cs.poller = p + (1ull << 32);
    EXPECT(stark_supervisor_start(rt, &s, &sup), STARK_NOT_FOUND);
    cs.poller = p;
    OK(stark_supervisor_start(rt, &s, &sup));
    OK(stark_lookup(rt, "polled-child", &child));
    stark_poll_item it = poll_until(p, STARK_POLL_STARTED);
    CHECK(it.actor == child);
    OK(stark_send(rt, child, 9, "boom", 4));
    it = poll_until(p, STARK_POLL_MESSAGE);
    CHECK(it.actor == child && it.tag == 9 && it.is_ask == 0);
    stark_poll_result r = {.token = it.token, .status = STARK_DENIED, .data = "polled child fails", .len = 18};
    OK(stark_poll_done(rt, p, &r, 1));
    EXPECT(stark_poll_done(rt, p, &r, 1), STARK_NOT_FOUND); /* a token is given back once */
    it = poll_until(p, STARK_POLL_STARTED); /* restarted by its supervisor */
    stark_ref again;
    OK(stark_lookup(rt, "polled-child", &again));
    CHECK(it.actor == again);
    OK(stark_stop(rt, sup));
    it = poll_until(p, STARK_POLL_STOPPED);
    CHECK(it.actor == again);
    WAIT_UNTIL(stark_alive(rt, sup) == STARK_NOT_FOUND, 2000);
    OK(stark_poller_free(rt, p));
}

int main(void) {
    t_begin("t_poll");
    stark_config cfg;
    stark_config_init(&cfg);
    cfg.workers = 2;
    OK(stark_runtime_new(&cfg, &rt));
    exclusive_and_free_wakes();
    bad_arguments();
    polled_child();

    OK(stark_poller_new(rt, 16, &poller));
    stark_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.mailbox_capacity = 32;
    o.overflow = STARK_OVERFLOW_WAIT; /* stark_send waits for room; stark_try_send never does */
    o.overflow_wait_ns = 5 * T_SEC;
    for (int i = 0; i < N; i++) OK(stark_spawn_polled(rt, poller, &o, &actors[i]));
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = native_handle;
    OK(stark_spawn(rt, &d, NULL, &native));
    pthread_t th;
    CHECK(pthread_create(&th, NULL, poll_loop, NULL) == 0);
    for (int i = 0; i < N; i++) WAIT_UNTIL(atomic_load(&starts[i]) == 1, 2000);

    /* asks answered from the poll thread */
    stark_reply r = t_reply();
    for (int i = 0; i < N; i++) {
        char msg[16];
        int len = snprintf(msg, sizeof msg, "hello %d", i);
        OK(stark_ask(rt, actors[i], P_ECHO, msg, (size_t)len, 2 * T_SEC, &r));
        CHECK(r.tag == P_ECHO && r.len == (size_t)len && memcmp(r.data, msg, (size_t)len) == 0 && r.sender == actors[i]);
        OK(stark_reply_free(&r));
    }
    /* sends, in order per actor, in batches */
    for (uint32_t s = 0; s < 300; s++) OK(stark_send(rt, actors[s % N], P_SEQ, &(uint32_t){s / N}, sizeof(uint32_t)));
    WAIT_UNTIL(atomic_load(&seq_count) == 300, 5000);
    CHECK(atomic_load(&seq_errors) == 0);
    /* An ask finished without a reply ends (it does not hang). */
    stark_status st = stark_ask(rt, actors[1], P_NOREPLY, NULL, 0, 2 * T_SEC, &r);
    CHECKF(st != STARK_OK && st != STARK_TIMEOUT && stark_last_error()[0] != 0, "an unanswered ask: %d %s",
           (int)st, stark_last_error());

    /* A failure: STARK_FAILED with the reason; the actor restarts. */
    EXPECT(stark_ask(rt, actors[2], P_FAIL, NULL, 0, 2 * T_SEC, &r), STARK_FAILED);
    CHECKF(strstr(stark_last_error(), "polled failure on purpose") != NULL, "%s", stark_last_error());
    WAIT_UNTIL(atomic_load(&starts[2]) == 2, 2000);
    OK(stark_ask(rt, actors[2], P_ECHO, "again", 5, 2 * T_SEC, &r));
    OK(stark_reply_free(&r));
    WAIT_UNTIL(t_dead_letters(rt, actors[2], STARK_INTERNAL, P_FAIL, NULL, 0) == 1, 2000); /* the cause: the status given back */
    CHECK(atomic_load(&starts[0]) == 1 && atomic_load(&starts[1]) == 1);

    /* send_from: the polled actor is the sender; the answer is an item. */
    OK(stark_send_from(rt, actors[0], native, 1, "go", 2));
    WAIT_UNTIL(atomic_load(&from_native) == 1, 2000);

    /* stark_request: the reply comes back to the polled actor as an item
     * carrying the request's corr_id. */
    uint64_t corr = 0;
    OK(stark_request(rt, actors[0], native, 1, "q", 1, &corr));
    CHECK(corr != 0);
    WAIT_UNTIL(atomic_load(&from_native) == 2, 2000);
    CHECK(atomic_load(&native_saw_corr) == corr && atomic_load(&reply_corr) == corr);
    uint64_t corr2 = 0;
    OK(stark_request(rt, actors[0], native, 1, "q", 1, &corr2));
    CHECK(corr2 != corr);
    WAIT_UNTIL(atomic_load(&from_native) == 3, 2000);
    CHECK(atomic_load(&reply_corr) == corr2);

    /* A pooled buffer to a polled actor: handed over, owned by the poller. */
    stark_buffer b;
    void *p;
    OK(stark_buffer_alloc(rt, 3, &b));
    OK(stark_buffer_data(rt, b, &p, NULL));
    memcpy(p, "buf", 3);
    OK(stark_send_buffer(rt, actors[1], P_BUF, b));
    WAIT_UNTIL(atomic_load(&buffers_ok) == 1, 2000);

    /* Back-pressure: the poll thread stops; senders fill the poller (16)
     * and the mailbox (32), then see STARK_FULL. */
    pause_poller(1);
    int seen_before = atomic_load(&seq_count);
    uint32_t sent = 0;
    for (;;) {
        st = stark_try_send(rt, actors[0], P_SEQ, &(uint32_t){next_seq[0] + sent}, sizeof(uint32_t));
        if (st == STARK_FULL) break;
        CHECKF(st == STARK_OK, "try_send: %d %s", (int)st, stark_last_error());
        sent++;
        CHECKF(sent < 10000, "no back-pressure after %u messages", sent);
        if (sent % 8 == 0) t_sleep_ms(1); /* let the actor hand messages over */
    }
    CHECKF(sent >= 16 && sent <= 16 + 32 + 1, "%u accepted before STARK_FULL", sent);
    EXPECT(stark_try_send(rt, actors[0], P_SEQ, "full", 4), STARK_FULL);
    t_sleep_ms(20);
    CHECK(atomic_load(&seq_count) == seen_before); /* nothing moved while paused */
    pause_poller(0);
    WAIT_UNTIL(atomic_load(&seq_count) == seen_before + (int)sent, 5000);
    t_sleep_ms(20);
    CHECK(atomic_load(&seq_count) == seen_before + (int)sent); /* exactly once */
    CHECK(atomic_load(&seq_errors) == 0);
    stark_counters c = T_QUIESCE(rt, actors[0]);
    CHECK(c.dead_lettered == 0);
    OK(stark_ask(rt, actors[0], P_ECHO, "still", 5, 2 * T_SEC, &r));
    OK(stark_reply_free(&r));

    /* STOPPED events. */
    OK(stark_stop(rt, actors[1]));
    WAIT_UNTIL(atomic_load(&stops[1]) == 1, 2000);
    EXPECT(stark_send(rt, actors[1], P_SEQ, "x", 1), STARK_NOT_FOUND);

    /* Freeing the poller stops its actors and ends the loop with STARK_STOPPED. */
    OK(stark_poller_free(rt, poller));
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(atomic_load(&stopped_status) == STARK_STOPPED);
    WAIT_UNTIL(stark_alive(rt, actors[0]) == STARK_NOT_FOUND && stark_alive(rt, actors[2]) == STARK_NOT_FOUND, 2000);
    stark_poll_item items[1];
    size_t n;
    EXPECT(stark_poll(rt, poller, items, 1, 0, &n), STARK_NOT_FOUND);
    stark_ref late;
    EXPECT(stark_spawn_polled(rt, poller, NULL, &late), STARK_NOT_FOUND);
    OK(stark_runtime_free(rt));
    t_end();
    printf("     (%d items in %d batches, largest %d)\n", atomic_load(&items_seen), atomic_load(&batches),
           atomic_load(&max_batch));
    return 0;
}
