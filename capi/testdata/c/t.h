/*
 * t.h - the small harness shared by the C ABI test programs (capi/ctest.mk
 * builds and runs them). Each program is one file, includes this header
 * once, calls t_begin() first and t_end() last; any failed check prints
 * "FAIL file:line: what" with stark_last_error() and exits with status 1
 * at once (_exit: no leak report after a failure, it would only be noise).
 */
#ifndef STARK_CTEST_H
#define STARK_CTEST_H

#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stark.h"

#define T_UNUSED __attribute__((unused))
#define T_SEC 1000000000ull
#define T_MS 1000000ull

static const char *t_name;
static atomic_ulong t_checks;
static uint64_t t_start;

T_UNUSED static uint64_t t_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * T_SEC + (uint64_t)ts.tv_nsec;
}

T_UNUSED static void t_sleep_ms(unsigned ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A scale for the sizes of the heavy tests: STARK_CTEST_SCALE=10 runs a
 * tenth of the messages (for slow checkers such as valgrind). */
T_UNUSED static unsigned long t_scaled(unsigned long n) {
    const char *s = getenv("STARK_CTEST_SCALE");
    unsigned long d = s ? strtoul(s, NULL, 10) : 1;
    if (d < 1) d = 1;
    return n / d > 0 ? n / d : 1;
}

__attribute__((noreturn, format(printf, 3, 4))) static void t_fail_at(const char *file, int line, const char *fmt,
                                                                      ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "FAIL %s:%d: %s\n", file, line, buf);
    fflush(stderr);
    _exit(1);
}
#define T_FAIL(...) t_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* CHECK(cond) / CHECKF(cond, fmt, ...): a plain assertion. */
#define CHECK(cond)                                                                                                \
    do {                                                                                                           \
        atomic_fetch_add(&t_checks, 1);                                                                            \
        if (!(cond)) T_FAIL("check failed: %s", #cond);                                                            \
    } while (0)
#define CHECKF(cond, ...)                                                                                          \
    do {                                                                                                           \
        atomic_fetch_add(&t_checks, 1);                                                                            \
        if (!(cond)) T_FAIL(__VA_ARGS__);                                                                          \
    } while (0)

/* The message a call that fails leaves behind, used as a marker: before a
 * call expected to fail, EXPECT sets the thread's last error to it, so a
 * failing call that sets no message of its own is caught. */
#define T_MARKER_CALL() stark_config_init(NULL)

/* EXPECT(call, status): call returns exactly status; a failure must leave
 * a message in stark_last_error() (one the call set itself). */
#define EXPECT(call, want)                                                                                         \
    do {                                                                                                           \
        stark_status want_ = (want);                                                                               \
        char marker_[128] = "";                                                                                    \
        if (want_ != STARK_OK) {                                                                                   \
            T_MARKER_CALL();                                                                                       \
            snprintf(marker_, sizeof marker_, "%s", stark_last_error());                                           \
        }                                                                                                          \
        stark_status got_ = (call);                                                                                \
        atomic_fetch_add(&t_checks, 1);                                                                            \
        if (got_ != want_)                                                                                         \
            T_FAIL("%s returned %d (%s), want %d (%s); last error: %s", #call, (int)got_, stark_status_name(got_), \
                   (int)want_, stark_status_name(want_), stark_last_error());                                      \
        if (want_ != STARK_OK) {                                                                                   \
            const char *e_ = stark_last_error();                                                                   \
            if (e_ == NULL || e_[0] == 0) T_FAIL("%s failed with an empty stark_last_error()", #call);             \
            if (strcmp(e_, marker_) == 0 && strstr(#call, "stark_config_init") == NULL)                            \
                T_FAIL("%s failed without setting stark_last_error() (still: %s)", #call, e_);                     \
        }                                                                                                          \
    } while (0)
#define OK(call) EXPECT(call, STARK_OK)

/* WAIT_UNTIL(cond, ms): polls cond every millisecond; fails after ms. */
#define WAIT_UNTIL(cond, ms)                                                                                       \
    do {                                                                                                           \
        uint64_t dl_ = t_now_ns() + (uint64_t)(ms)*T_MS;                                                           \
        while (!(cond)) {                                                                                          \
            if (t_now_ns() > dl_) T_FAIL("timed out after %d ms waiting for %s", (int)(ms), #cond);                \
            t_sleep_ms(1);                                                                                         \
        }                                                                                                          \
        atomic_fetch_add(&t_checks, 1);                                                                            \
    } while (0)

/* Waits until ref's (or, with ref 0, the runtime's) mailboxes are empty and
 * checks conservation: accepted = processed + dead_lettered + queued. */
T_UNUSED static stark_counters t_quiesce_at(const char *file, int line, stark_runtime rt, stark_ref ref) {
    stark_counters c;
    uint64_t dl = t_now_ns() + 10 * T_SEC;
    for (;;) {
        memset(&c, 0, sizeof c);
        c.struct_size = sizeof c;
        stark_status st = stark_counters_get(rt, ref, &c);
        if (st != STARK_OK) t_fail_at(file, line, "stark_counters_get: %d %s", (int)st, stark_last_error());
        if (c.queued == 0 && c.accepted == c.processed + c.dead_lettered) break;
        if (t_now_ns() > dl)
            t_fail_at(file, line, "no quiescence: accepted %llu processed %llu dead_lettered %llu queued %llu",
                      (unsigned long long)c.accepted, (unsigned long long)c.processed,
                      (unsigned long long)c.dead_lettered, (unsigned long long)c.queued);
        t_sleep_ms(1);
    }
    atomic_fetch_add(&t_checks, 1);
    return c;
}
#define T_QUIESCE(rt, ref) t_quiesce_at(__FILE__, __LINE__, rt, ref)

T_UNUSED static stark_reply t_reply(void) {
    stark_reply r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    return r;
}

/* The number of dead letters to `target` with `cause` among the recent ones. */
T_UNUSED static size_t t_dead_letters(stark_runtime rt, stark_ref target, stark_status cause, uint32_t tag,
                             char *reason, size_t reason_len) {
    static stark_dead_letter dl[256];
    size_t n = 0, hits = 0;
    memset(dl, 0, sizeof dl);
    dl[0].struct_size = sizeof dl[0];
    if (stark_dead_letters(rt, dl, 256, &n) != STARK_OK) T_FAIL("stark_dead_letters: %s", stark_last_error());
    for (size_t i = 0; i < n; i++) {
        if (dl[i].target == target && dl[i].cause == cause && dl[i].tag == tag) {
            hits++;
            if (reason) snprintf(reason, reason_len, "%s", dl[i].reason);
        }
    }
    return hits;
}

T_UNUSED static void t_begin(const char *name) {
    t_name = name;
    t_start = t_now_ns();
    /* The loaded library must implement the header's ABI. */
    uint32_t v = stark_abi_version();
    CHECKF(v >> 16 == STARK_ABI_VERSION_MAJOR && (int)(v & 0xffff) >= (int)STARK_ABI_VERSION_MINOR,
           "library ABI %u.%u, header %d.%d", v >> 16, v & 0xffff, STARK_ABI_VERSION_MAJOR,
           STARK_ABI_VERSION_MINOR);
}

T_UNUSED static void t_end(void) {
    printf("ok   %-14s %5lu checks  %6.2fs\n", t_name, (unsigned long)atomic_load(&t_checks),
           (double)(t_now_ns() - t_start) / 1e9);
    fflush(stdout);
}

#endif
