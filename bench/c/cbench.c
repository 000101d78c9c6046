/*
 * cbench.c: micro-benchmarks of the STARK C ABI (libstark.so), one
 * measurement per process run. bench/c/run.sh runs them alternating with the
 * Go ping-pong (bench/c/goping) and prints medians.
 *
 *   cbench send     [-n N] [-payload B] [-try] [-mailbox M] [-wait]
 *       A plain C thread (outside the runtime) sends N messages of B bytes
 *       (stark_send, or stark_try_send with -try) to a native actor that
 *       counts them. Prints the sender's cost (time from the first send
 *       until the last send returned, per message) and the end-to-end cost
 *       (until the actor has counted all, per message). By default the
 *       mailbox holds all N, so the sender never waits for the actor;
 *       -mailbox M -wait gives it M slots and STARK_OVERFLOW_WAIT instead.
 *
 *   cbench pingpong [-n N] [-pairs P] [-payload B]
 *       P pairs of native actors bounce a ball (stark_ctx_send from the
 *       handler) until N messages in all were handled (N/P per pair, as
 *       bench/c/goping does with Go actors). Prints messages per second.
 *
 *   cbench floor    [-n N]
 *       The floor under every call: N calls of stark_abi_version, an export
 *       that does nothing, from a C thread (one C->Go transition each).
 *
 *   cbench poll     [-n N] [-batch K]
 *       A polled actor (stark_spawn_polled); a C sender thread sends N
 *       8-byte messages (STARK_OVERFLOW_WAIT, mailbox 4096) while this
 *       thread takes batches of up to K with stark_poll and gives each
 *       batch back with stark_poll_done. Prints wall time per message
 *       (first send to last done) and the poll thread's CPU time per message.
 *
 * Output: "key value" lines, one per figure.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stark.h>

static void die(const char *what, stark_status st) {
    fprintf(stderr, "cbench: %s: %s (%d): %s\n", what, stark_status_name(st), st, stark_last_error());
    exit(1);
}
#define CHECK(call)                                                                                                    \
    do {                                                                                                               \
        stark_status st_ = (call);                                                                                     \
        if (st_ != STARK_OK) die(#call, st_);                                                                          \
    } while (0)

static double now_ns(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A one-shot event: set once by a handler, waited for by main. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int set;
    double at; /* CLOCK_MONOTONIC ns when set */
} event;

static void event_init(event *e) {
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->set = 0;
}
static void event_set(event *e) {
    double t = now_ns(CLOCK_MONOTONIC);
    pthread_mutex_lock(&e->mu);
    e->set = 1;
    e->at = t;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}
static void event_wait(event *e) {
    pthread_mutex_lock(&e->mu);
    while (!e->set) pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

/* Flags: -name value, or -name alone for booleans. */
static long flag_long(int argc, char **argv, const char *name, long def) {
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return atol(argv[i + 1]);
    return def;
}
static int flag_bool(int argc, char **argv, const char *name) {
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return 1;
    return 0;
}

static stark_runtime new_runtime(void) {
    stark_runtime rt;
    CHECK(stark_runtime_new(NULL, &rt)); /* one worker per core, as goping */
    return rt;
}

/* ---- send: a C thread to a counting native actor ------------------------- */

enum { TAG_COUNT = 1 };

typedef struct {
    long want, got;
    event done;
} counter;

static stark_status count_msg(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ctx;
    (void)m;
    counter *c = ud;
    if (++c->got == c->want) event_set(&c->done);
    return STARK_OK;
}

static int bench_send(int argc, char **argv) {
    long n = flag_long(argc, argv, "-n", 1000000);
    long payload = flag_long(argc, argv, "-payload", 8);
    int try = flag_bool(argc, argv, "-try");
    int wait = flag_bool(argc, argv, "-wait");
    long mailbox = flag_long(argc, argv, "-mailbox", 0);
    long warm = 10000;
    if (mailbox == 0) mailbox = n + warm + 1024; /* the actor never pushes back */

    stark_runtime rt = new_runtime();
    counter c = {.want = warm + n};
    event_init(&c.done);
    stark_actor_def def = {.struct_size = sizeof def, .handle = count_msg, .user_data = &c};
    stark_spawn_opts so = {.struct_size = sizeof so, .mailbox_capacity = (uint32_t)mailbox};
    if (wait) {
        so.overflow = STARK_OVERFLOW_WAIT;
        so.overflow_wait_ns = 10000000000ull;
    }
    stark_ref ref;
    CHECK(stark_spawn(rt, &def, &so, &ref));
    char buf[4096] = {0};
    if (payload > (long)sizeof buf) payload = sizeof buf;

    /* Warm up: the thread's first calls into Go set it up (an M for the C thread). */
    for (long i = 0; i < warm; i++) CHECK(stark_send(rt, ref, TAG_COUNT, buf, (size_t)payload));

    double t0 = now_ns(CLOCK_MONOTONIC);
    if (try) {
        for (long i = 0; i < n; i++) {
            stark_status st = stark_try_send(rt, ref, TAG_COUNT, buf, (size_t)payload);
            if (st != STARK_OK) die("stark_try_send", st);
        }
    } else {
        for (long i = 0; i < n; i++) {
            stark_status st = stark_send(rt, ref, TAG_COUNT, buf, (size_t)payload);
            if (st != STARK_OK) die("stark_send", st);
        }
    }
    double t1 = now_ns(CLOCK_MONOTONIC);
    event_wait(&c.done);
    double t2 = c.done.at > t1 ? c.done.at : t1;
    printf("sender_ns %.1f\n", (t1 - t0) / n);
    printf("e2e_ns %.1f\n", (t2 - t0) / n);
    /* The last message counts as processed once its handler returned:
     * read the counters at a quiescent point, after the shutdown. */
    CHECK(stark_runtime_shutdown(rt, 0));
    stark_counters k = {.struct_size = sizeof k};
    CHECK(stark_counters_get(rt, 0, &k));
    if (k.processed < (uint64_t)(warm + n) || k.dead_lettered != 0) {
        fprintf(stderr, "cbench send: processed %llu, dead-lettered %llu, want %ld and 0\n",
                (unsigned long long)k.processed, (unsigned long long)k.dead_lettered, warm + n);
        return 1;
    }
    CHECK(stark_runtime_free(rt));
    return 0;
}

/* ---- pingpong: native actors bouncing a ball ------------------------------ */

enum { TAG_START = 1, TAG_BALL = 2 };

typedef struct {
    stark_ref partner;
    long want, got; /* want: balls the pinger waits for (0 for a ponger) */
    size_t payload;
    event *done;
} player;

static const char ball[4096];
static int use_post; /* -post: stark_ctx_post instead of stark_ctx_send */

static stark_status play(stark_ctx ctx, const stark_msg *m, void *ud) {
    player *p = ud;
    if (m->tag == TAG_BALL && ++p->got == p->want) {
        event_set(p->done);
        return STARK_OK;
    }
    if (use_post) return stark_ctx_post(ctx, p->partner, TAG_BALL, ball, p->payload);
    return stark_ctx_send(ctx, p->partner, TAG_BALL, ball, p->payload);
}

static int bench_pingpong(int argc, char **argv) {
    long total = flag_long(argc, argv, "-n", 2000000);
    long pairs = flag_long(argc, argv, "-pairs", 1);
    long payload = flag_long(argc, argv, "-payload", 0);
    use_post = flag_bool(argc, argv, "-post");
    if (payload > (long)sizeof ball) payload = sizeof ball;
    long per = total / pairs;
    per -= per % 2;
    if (per < 2) per = 2;

    stark_runtime rt = new_runtime();
    player *pl = calloc((size_t)pairs * 2, sizeof *pl);
    event *done = calloc((size_t)pairs, sizeof *done);
    stark_ref *pings = calloc((size_t)pairs, sizeof *pings);
    for (long i = 0; i < pairs; i++) {
        event_init(&done[i]);
        player *ping = &pl[2 * i], *pong = &pl[2 * i + 1];
        *ping = (player){.want = per / 2, .payload = (size_t)payload, .done = &done[i]};
        *pong = (player){.payload = (size_t)payload};
        stark_actor_def d1 = {.struct_size = sizeof d1, .handle = play, .user_data = ping};
        stark_actor_def d2 = {.struct_size = sizeof d2, .handle = play, .user_data = pong};
        stark_ref a, b;
        CHECK(stark_spawn(rt, &d1, NULL, &a));
        CHECK(stark_spawn(rt, &d2, NULL, &b));
        /* Set before the first message: the send that starts the rally
         * publishes these writes to the workers. */
        ping->partner = b;
        pong->partner = a;
        pings[i] = a;
    }
    double t0 = now_ns(CLOCK_MONOTONIC);
    for (long i = 0; i < pairs; i++) CHECK(stark_send(rt, pings[i], TAG_START, NULL, 0));
    for (long i = 0; i < pairs; i++) event_wait(&done[i]);
    double t1 = now_ns(CLOCK_MONOTONIC);
    for (long i = 0; i < pairs; i++) {
        if (pl[2 * i].got != per / 2 || pl[2 * i + 1].got != per / 2) {
            fprintf(stderr, "cbench pingpong: pair %ld: %ld and %ld balls, want %ld each\n", i, pl[2 * i].got,
                    pl[2 * i + 1].got, per / 2);
            return 1;
        }
    }
    printf("msgs_per_s %.0f\n", per * pairs / ((t1 - t0) / 1e9));
    CHECK(stark_runtime_free(rt));
    free(pl);
    free(done);
    free(pings);
    return 0;
}

/* ---- floor: the bare C->Go call ------------------------------------------ */

static int bench_floor(int argc, char **argv) {
    long n = flag_long(argc, argv, "-n", 10000000);
    stark_runtime rt = new_runtime(); /* the runtime's threads exist, as in the other runs */
    uint32_t sum = 0;
    for (long i = 0; i < 100000; i++) sum += stark_abi_version();
    double t0 = now_ns(CLOCK_MONOTONIC);
    for (long i = 0; i < n; i++) sum += stark_abi_version();
    double t1 = now_ns(CLOCK_MONOTONIC);
    if (sum == 0) return 1;
    printf("call_ns %.1f\n", (t1 - t0) / n);
    CHECK(stark_runtime_free(rt));
    return 0;
}

/* ---- poll: a polled actor drained in batches ------------------------------ */

typedef struct {
    stark_runtime rt;
    stark_ref to;
    long n;
    int go; /* atomic */
} poll_sender;

static void *poll_send(void *arg) {
    poll_sender *s = arg;
    char msg[8] = {0};
    while (!__atomic_load_n(&s->go, __ATOMIC_ACQUIRE)) {
    }
    for (long i = 0; i < s->n; i++) {
        stark_status st = stark_send(s->rt, s->to, 1, msg, sizeof msg);
        if (st != STARK_OK) die("stark_send (poll sender)", st);
    }
    return NULL;
}

static int bench_poll(int argc, char **argv) {
    long n = flag_long(argc, argv, "-n", 1000000);
    long batch = flag_long(argc, argv, "-batch", 256);
    stark_runtime rt = new_runtime();
    stark_poller poller;
    CHECK(stark_poller_new(rt, 0, &poller));
    stark_spawn_opts so = {.struct_size = sizeof so, .overflow = STARK_OVERFLOW_WAIT, .overflow_wait_ns = 10000000000ull};
    stark_ref ref;
    CHECK(stark_spawn_polled(rt, poller, &so, &ref));
    stark_poll_item *items = calloc((size_t)batch, sizeof *items);
    stark_poll_result *res = calloc((size_t)batch, sizeof *res);

    /* The STARTED event comes first. */
    size_t got = 0;
    CHECK(stark_poll(rt, poller, items, (size_t)batch, 1000000000ull, &got));
    if (got != 1 || items[0].kind != STARK_POLL_STARTED) {
        fprintf(stderr, "cbench poll: want one STARTED event first\n");
        return 1;
    }

    poll_sender s = {.rt = rt, .to = ref, .n = n};
    pthread_t th;
    pthread_create(&th, NULL, poll_send, &s);
    double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    double t0 = now_ns(CLOCK_MONOTONIC);
    __atomic_store_n(&s.go, 1, __ATOMIC_RELEASE);
    long done = 0, polls = 0;
    while (done < n) {
        stark_status st = stark_poll(rt, poller, items, (size_t)batch, 5000000000ull, &got);
        if (st != STARK_OK) die("stark_poll", st);
        polls++;
        size_t k = 0;
        for (size_t i = 0; i < got; i++) {
            if (items[i].kind != STARK_POLL_MESSAGE) continue;
            res[k++] = (stark_poll_result){.token = items[i].token, .status = STARK_OK};
        }
        CHECK(stark_poll_done(rt, poller, res, k));
        done += (long)k;
    }
    double t1 = now_ns(CLOCK_MONOTONIC);
    double c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    pthread_join(th, NULL);
    printf("wall_ns %.1f\n", (t1 - t0) / n);
    printf("poll_cpu_ns %.1f\n", (c1 - c0) / n);
    printf("avg_batch %.1f\n", (double)n / polls);
    CHECK(stark_poller_free(rt, poller));
    CHECK(stark_runtime_free(rt));
    free(items);
    free(res);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "send") == 0) return bench_send(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "pingpong") == 0) return bench_pingpong(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "poll") == 0) return bench_poll(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "floor") == 0) return bench_floor(argc, argv);
    fprintf(stderr, "usage: cbench send|pingpong|poll|floor [flags] (see the comment at the top of cbench.c)\n");
    return 2;
}
