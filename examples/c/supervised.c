/*
 * supervised.c: a supervisor over a native worker that crashes and comes
 * back.
 *
 * The worker counts the "work" messages it handles in its user data. A
 * "crash" message makes it fail (stark_ctx_fail records the reason, then the
 * handler returns an error status). The supervisor (one-for-one, exponential
 * backoff) restarts it: on_start runs again, the mailbox and the ref are
 * kept, and the user data (owned by the supervisor's child spec, freed once
 * when the supervisor ends) still holds the count. The crashing message is
 * a dead letter; the conservation counters add up.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stark.h>

enum { TAG_WORK = 1, TAG_CRASH = 2 };

/* The worker's user data: lives as long as the supervisor, across restarts. */
typedef struct worker {
    int starts;   /* incarnations so far */
    long handled; /* "work" messages handled, over every incarnation */
} worker;

static stark_status worker_start(stark_ctx ctx, void *ud) {
    (void)ctx;
    worker *w = ud;
    w->starts++;
    printf("  worker: on_start, incarnation %d (handled so far: %ld)\n", w->starts, w->handled);
    return STARK_OK;
}

static stark_status worker_handle(stark_ctx ctx, const stark_msg *m, void *ud) {
    worker *w = ud;
    switch (m->tag) {
    case TAG_WORK: {
        char out[64];
        int n = snprintf(out, sizeof out, "handled %ld", ++w->handled);
        return stark_ctx_reply(ctx, TAG_WORK, out, (size_t)n);
    }
    case TAG_CRASH:
        stark_ctx_fail(ctx, "worker: asked to crash");
        return STARK_INTERNAL; /* any non-OK status fails the actor */
    default:
        stark_ctx_fail(ctx, "worker: unknown tag");
        return STARK_INVALID;
    }
}

static void worker_free(void *ud) {
    worker *w = ud;
    printf("  worker: user data freed (%d incarnations, %ld handled)\n", w->starts, w->handled);
    free(w);
}

static int failed(const char *what, stark_status st) {
    fprintf(stderr, "supervised: %s: %s (%d): %s\n", what, stark_status_name(st), st, stark_last_error());
    return 1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Asks the worker for one unit of work and prints the answer. */
static stark_status work(stark_runtime rt, stark_ref ref) {
    stark_reply r = {.struct_size = sizeof r};
    double t0 = now_ms();
    stark_status st = stark_ask(rt, ref, TAG_WORK, NULL, 0, 2000000000, &r);
    if (st != STARK_OK) return st;
    printf("work  -> \"%.*s\" (%.0f ms)\n", (int)r.len, (const char *)r.data, now_ms() - t0);
    stark_reply_free(&r);
    return STARK_OK;
}

int main(void) {
    stark_runtime rt;
    stark_status st = stark_runtime_new(NULL, &rt);
    if (st != STARK_OK) return failed("stark_runtime_new", st);
    int rc = 1;

    worker *w = calloc(1, sizeof *w);
    if (w == NULL) {
        fprintf(stderr, "supervised: out of memory\n");
        goto out;
    }
    stark_actor_def def = {
        .struct_size = sizeof def,
        .handle = worker_handle,
        .on_start = worker_start,
        .user_data = w,
        .free_user_data = worker_free,
    };
    stark_child_spec child = {
        .struct_size = sizeof child,
        .restart = STARK_PERMANENT,
        .name = "worker", /* registered again at every restart */
        .def = &def,
    };
    stark_supervisor_spec spec = {
        .struct_size = sizeof spec,
        .strategy = STARK_ONE_FOR_ONE,
        .max_restarts = 5,          /* within period_ns, else escalate */
        .period_ns = 5000000000ull, /* 5 s */
        .backoff = STARK_BACKOFF_EXPONENTIAL,
        .backoff_ns = 20000000ull,      /* 20 ms, 40 ms, 80 ms, ... */
        .backoff_max_ns = 500000000ull, /* up to 0.5 s */
        .children = &child,
        .n_children = 1,
        .name = "sup",
    };
    printf("starting the supervisor (one-for-one, exponential backoff from 20 ms)\n");
    stark_ref sup;
    st = stark_supervisor_start(rt, &spec, &sup); /* the runtime owns w from here */
    if (st != STARK_OK) {
        failed("stark_supervisor_start", st);
        goto out;
    }
    stark_ref ref;
    if ((st = stark_lookup(rt, "worker", &ref)) != STARK_OK) {
        failed("stark_lookup", st);
        goto out;
    }

    for (int round = 0; round < 2; round++) {
        if ((st = work(rt, ref)) != STARK_OK || (st = work(rt, ref)) != STARK_OK) {
            failed("ask work", st);
            goto out;
        }
        /* The ask of the crashing message ends with STARK_FAILED and the reason. */
        stark_reply r = {.struct_size = sizeof r};
        st = stark_ask(rt, ref, TAG_CRASH, "boom", 4, 2000000000, &r);
        if (st != STARK_FAILED) {
            fprintf(stderr, "supervised: the crash ask returned %s, want STARK_FAILED\n", stark_status_name(st));
            stark_reply_free(&r);
            goto out;
        }
        printf("crash -> %s: %s\n", stark_status_name(st), stark_last_error());
        /* The next ask waits in the kept mailbox through the backoff. */
    }
    if ((st = work(rt, ref)) != STARK_OK) {
        failed("ask work", st);
        goto out;
    }

    /* The crashing messages, as dead letters (oldest first). */
    stark_dead_letter dl[8] = {{.struct_size = sizeof dl[0]}};
    size_t n = 0;
    if ((st = stark_dead_letters(rt, dl, 8, &n)) != STARK_OK) {
        failed("stark_dead_letters", st);
        goto out;
    }
    printf("dead letters: %zu\n", n);
    for (size_t i = 0; i < n; i++)
        printf("  tag %u, %llu bytes, cause %s: %s\n", dl[i].tag, (unsigned long long)dl[i].size,
               stark_status_name(dl[i].cause), dl[i].reason);

    /* Conservation: accepted = processed + dead_lettered + queued. */
    stark_counters c = {.struct_size = sizeof c};
    if ((st = stark_counters_get(rt, ref, &c)) != STARK_OK) {
        failed("stark_counters_get", st);
        goto out;
    }
    int balanced = c.accepted == c.processed + c.dead_lettered + c.queued;
    printf("worker counters: accepted %llu = processed %llu + dead-lettered %llu + queued %llu: %s\n",
           (unsigned long long)c.accepted, (unsigned long long)c.processed, (unsigned long long)c.dead_lettered,
           (unsigned long long)c.queued, balanced ? "balanced" : "NOT BALANCED");
    stark_metrics m = {.struct_size = sizeof m};
    if ((st = stark_runtime_metrics(rt, &m)) != STARK_OK) {
        failed("stark_runtime_metrics", st);
        goto out;
    }
    printf("runtime: %llu failures, %llu restarts, %llu escalations\n", (unsigned long long)m.failures,
           (unsigned long long)m.restarts, (unsigned long long)m.escalations);
    rc = balanced && n == 2 ? 0 : 1;

out:
    printf("freeing the runtime\n");
    if ((st = stark_runtime_free(rt)) != STARK_OK) return failed("stark_runtime_free", st);
    return rc;
}
