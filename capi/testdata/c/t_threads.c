/*
 * t_threads: 8 C threads send 100,000 small messages each to one native
 * actor at the same time: four with stark_send into an OVERFLOW_WAIT
 * mailbox (they block while it is full), four with stark_try_send,
 * retrying on STARK_FULL. The actor sees every message exactly once, each
 * sender's messages in the order sent, and the counters balance.
 * STARK_CTEST_SCALE divides the message count.
 */
#include "t.h"

#define THREADS 8

static stark_runtime rt;
static stark_ref target;
static unsigned long per_thread;
static pthread_barrier_t start;

/* Touched only by the actor's handler, one message at a time. */
static uint64_t next_seq[THREADS];
static uint64_t received, out_of_order, bad;

typedef struct sender {
    int id;
    int use_try;
    unsigned long fulls;
    stark_status err;
} sender;

static stark_status count(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ctx;
    (void)ud;
    uint32_t v[2];
    if (m->tag != 7 || m->len != sizeof v) {
        bad++;
        return STARK_OK;
    }
    memcpy(v, m->data, sizeof v);
    if (v[0] >= THREADS) {
        bad++;
        return STARK_OK;
    }
    if (v[1] != next_seq[v[0]]) out_of_order++;
    next_seq[v[0]] = (uint64_t)v[1] + 1;
    received++;
    return STARK_OK;
}

static stark_status get(stark_ctx ctx, const stark_msg *m, void *ud);

static stark_status handle(stark_ctx ctx, const stark_msg *m, void *ud) {
    if (m->tag == 8) return get(ctx, m, ud);
    return count(ctx, m, ud);
}

static stark_status get(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)m;
    (void)ud;
    uint64_t out[3] = {received, out_of_order, bad};
    return stark_ctx_reply(ctx, 8, out, sizeof out);
}

static void *run(void *p) {
    sender *s = p;
    pthread_barrier_wait(&start);
    for (uint32_t i = 0; i < per_thread; i++) {
        uint32_t v[2] = {(uint32_t)s->id, i};
        stark_status st;
        if (s->use_try) {
            while ((st = stark_try_send(rt, target, 7, v, sizeof v)) == STARK_FULL) {
                if (s->fulls++ == 0) CHECK(strstr(stark_last_error(), "full") != NULL);
                struct timespec pause = {0, 20000}; /* let the actor drain: 20 us */
                nanosleep(&pause, NULL);
            }
        } else {
            st = stark_send(rt, target, 7, v, sizeof v);
        }
        if (st != STARK_OK) {
            s->err = st;
            fprintf(stderr, "thread %d message %u: %s\n", s->id, i, stark_last_error());
            return NULL;
        }
    }
    return NULL;
}

int main(void) {
    t_begin("t_threads");
    per_thread = t_scaled(100000);
    stark_config cfg;
    stark_config_init(&cfg);
    cfg.mailbox_capacity = 1024;
    OK(stark_runtime_new(&cfg, &rt));
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = handle;
    stark_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.overflow = STARK_OVERFLOW_WAIT;
    o.overflow_wait_ns = 30 * T_SEC;
    OK(stark_spawn(rt, &d, &o, &target));

    pthread_t th[THREADS];
    sender s[THREADS];
    CHECK(pthread_barrier_init(&start, NULL, THREADS) == 0);
    for (int i = 0; i < THREADS; i++) {
        s[i] = (sender){.id = i, .use_try = i % 2};
        CHECK(pthread_create(&th[i], NULL, run, &s[i]) == 0);
    }
    unsigned long fulls = 0;
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(th[i], NULL) == 0);
        CHECKF(s[i].err == STARK_OK, "thread %d: status %d", i, (int)s[i].err);
        fulls += s[i].fulls;
    }
    uint64_t total = (uint64_t)per_thread * THREADS;
    stark_counters c = T_QUIESCE(rt, target);
    CHECKF(c.accepted == total && c.processed == total && c.dead_lettered == 0,
           "accepted %llu processed %llu dead %llu, want %llu", (unsigned long long)c.accepted,
           (unsigned long long)c.processed, (unsigned long long)c.dead_lettered, (unsigned long long)total);
    stark_reply r = t_reply();
    OK(stark_ask(rt, target, 8, NULL, 0, 5 * T_SEC, &r));
    uint64_t got[3];
    CHECK(r.len == sizeof got);
    memcpy(got, r.data, sizeof got);
    OK(stark_reply_free(&r));
    CHECKF(got[0] == total && got[1] == 0 && got[2] == 0, "received %llu (want %llu), out of order %llu, bad %llu",
           (unsigned long long)got[0], (unsigned long long)total, (unsigned long long)got[1],
           (unsigned long long)got[2]);
    for (int i = 0; i < THREADS; i++) CHECK(next_seq[i] == per_thread);
    stark_counters all = T_QUIESCE(rt, 0);
    CHECK(all.accepted == all.processed + all.dead_lettered + all.queued);
    stark_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    OK(stark_runtime_metrics(rt, &m));
    /* Every refusal at the door is a dead letter, and nothing else is one. */
    CHECKF(m.dead_letters == fulls, "%llu dead letters, %lu refusals", (unsigned long long)m.dead_letters, fulls);
    OK(stark_runtime_free(rt));
    pthread_barrier_destroy(&start);
    t_end();
    printf("     (%lu messages, %lu STARK_FULL retries)\n", (unsigned long)total, fulls);
    return 0;
}
