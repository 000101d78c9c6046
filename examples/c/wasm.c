/*
 * wasm.c: WASM actors from C.
 *
 *   1. counter-c.wasm (examples/wasm/counter-c/counter.c): spawned with init
 *      bytes (the starting total, one msgpack integer) and a memory limit,
 *      then driven with asks: tag 1 "add" n replies the new total, tag 2
 *      "get" replies the total (msgpack integers both ways).
 *   2. upgrade-v1.wasm -> upgrade-v2.wasm (examples/wasm/upgrade/): a thread
 *      sends "add 1" messages while main hot-upgrades the actor with
 *      stark_wasm_upgrade; v1 snapshots [total, count], v2 restores it, and
 *      a final "get" shows that no message and no state was lost.
 *
 * Usage: wasm [DIR]   (DIR holds the built guests; default build/wasm)
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stark.h>

static int failed(const char *what, stark_status st) {
    fprintf(stderr, "wasm: %s: %s (%d): %s\n", what, stark_status_name(st), st, stark_last_error());
    return 1;
}

/* ---- a little msgpack: small ints out, ints, short strings and maps in ---- */

/* Writes n (-32..127) as one msgpack fixint. */
static size_t mp_small_int(uint8_t *out, int n) {
    out[0] = (uint8_t)(int8_t)n;
    return 1;
}

typedef struct {
    const uint8_t *p, *end;
} mp_reader;

static int mp_int(mp_reader *r, int64_t *v) {
    if (r->p >= r->end) return 0;
    uint8_t b = *r->p++;
    int size;
    int is_signed;
    if (b <= 0x7f || b >= 0xe0) { /* positive / negative fixint */
        *v = (int8_t)b;
        return 1;
    }
    switch (b) {
    case 0xcc: size = 1, is_signed = 0; break;
    case 0xcd: size = 2, is_signed = 0; break;
    case 0xce: size = 4, is_signed = 0; break;
    case 0xcf: size = 8, is_signed = 0; break;
    case 0xd0: size = 1, is_signed = 1; break;
    case 0xd1: size = 2, is_signed = 1; break;
    case 0xd2: size = 4, is_signed = 1; break;
    case 0xd3: size = 8, is_signed = 1; break;
    default: return 0;
    }
    if (r->end - r->p < size) return 0;
    uint64_t u = 0;
    for (int i = 0; i < size; i++) u = u << 8 | *r->p++;
    if (is_signed && size < 8 && (u >> (size * 8 - 1)) & 1) u |= ~0ull << (size * 8); /* sign-extend */
    *v = (int64_t)u;
    return 1;
}

/* Reads a fixstr (what the guests write for map keys) into buf. */
static int mp_fixstr(mp_reader *r, char *buf, size_t cap) {
    if (r->p >= r->end || (*r->p & 0xe0) != 0xa0) return 0;
    size_t n = *r->p++ & 0x1f;
    if ((size_t)(r->end - r->p) < n || n >= cap) return 0;
    memcpy(buf, r->p, n);
    buf[n] = 0;
    r->p += n;
    return 1;
}

/* The reply of "get" of the upgrade modules: {"version": v, "total": t, "count": c}. */
typedef struct {
    int64_t version, total, count;
} state;

static int decode_state(const void *data, size_t len, state *s) {
    mp_reader r = {data, (const uint8_t *)data + len};
    if (r.p >= r.end || (*r.p & 0xf0) != 0x80) return 0;
    int n = *r.p++ & 0x0f;
    for (int i = 0; i < n; i++) {
        char key[16];
        int64_t v;
        if (!mp_fixstr(&r, key, sizeof key) || !mp_int(&r, &v)) return 0;
        if (strcmp(key, "version") == 0) s->version = v;
        else if (strcmp(key, "total") == 0) s->total = v;
        else if (strcmp(key, "count") == 0) s->count = v;
    }
    return r.p == r.end;
}

/* ---- part 1: the counter ---------------------------------------------------- */

/* Asks counter `ref` with tag and payload; stores the integer it replies. */
static stark_status ask_int(stark_runtime rt, stark_ref ref, uint32_t tag, const uint8_t *p, size_t n,
                            int64_t *out) {
    stark_reply r = {.struct_size = sizeof r};
    stark_status st = stark_ask(rt, ref, tag, p, n, 2000000000, &r);
    if (st != STARK_OK) return st;
    mp_reader rd = {r.data, (const uint8_t *)r.data + r.len};
    int ok = mp_int(&rd, out) && rd.p == rd.end;
    stark_reply_free(&r);
    if (!ok) {
        fprintf(stderr, "wasm: the counter replied something other than one msgpack integer\n");
        return STARK_INVALID;
    }
    return STARK_OK;
}

static int counter(stark_runtime rt, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/counter-c.wasm", dir);
    stark_module mod;
    stark_status st = stark_wasm_load_file(rt, path, 0, &mod);
    if (st != STARK_OK) return failed(path, st);

    uint8_t init[1];
    stark_wasm_opts wo = {
        .struct_size = sizeof wo,
        .memory_pages = 16, /* 1 MiB of linear memory at most */
        .init = init,
        .init_len = mp_small_int(init, 40), /* the total starts at 40 */
    };
    stark_ref ref;
    if ((st = stark_spawn_wasm(rt, mod, &wo, NULL, &ref)) != STARK_OK) return failed("stark_spawn_wasm", st);
    printf("counter-c: spawned with init 40 and a 1 MiB memory limit\n");

    int64_t total = 0;
    const int adds[] = {1, 2, -3, 100};
    for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++) {
        uint8_t p[1];
        size_t n = mp_small_int(p, adds[i]);
        if ((st = ask_int(rt, ref, 1, p, n, &total)) != STARK_OK) return failed("ask add", st);
        printf("  add %4d -> %lld\n", adds[i], (long long)total);
    }
    if ((st = ask_int(rt, ref, 2, NULL, 0, &total)) != STARK_OK) return failed("ask get", st);
    printf("  get      -> %lld\n", (long long)total);
    if (total != 140) {
        fprintf(stderr, "wasm: counter total %lld, want 140\n", (long long)total);
        return 1;
    }
    return 0;
}

/* ---- part 2: a hot upgrade under load ---------------------------------------- */

enum { ADDS_AFTER = 5000 };

/* The sender thread sends "add 1" until main says the upgrade is done, then
 * ADDS_AFTER more: the upgrade always happens while messages flow. */
typedef struct {
    stark_runtime rt;
    stark_ref ref;
    int sent;     /* atomic: read by main */
    int upgraded; /* atomic: set by main */
    stark_status st;
    char err[256];
} sender;

static void *send_adds(void *arg) {
    sender *s = arg;
    uint8_t one[1];
    size_t n = mp_small_int(one, 1);
    int after = -1;
    for (int i = 0; after < ADDS_AFTER; i++) {
        stark_status st = stark_send(s->rt, s->ref, 1, one, n);
        if (st != STARK_OK) {
            __atomic_store_n(&s->st, st, __ATOMIC_RELEASE);
            snprintf(s->err, sizeof s->err, "%s", stark_last_error()); /* per thread: copy it here */
            return NULL;
        }
        __atomic_store_n(&s->sent, i + 1, __ATOMIC_RELEASE);
        if (after >= 0) after++;
        else if (__atomic_load_n(&s->upgraded, __ATOMIC_ACQUIRE)) after = 0;
    }
    return NULL;
}

static stark_status get_state(stark_runtime rt, stark_ref ref, state *s) {
    stark_reply r = {.struct_size = sizeof r};
    stark_status st = stark_ask(rt, ref, 2, NULL, 0, 5000000000ull, &r);
    if (st != STARK_OK) return st;
    int ok = decode_state(r.data, r.len, s);
    stark_reply_free(&r);
    if (!ok) {
        fprintf(stderr, "wasm: \"get\" replied something other than {version, total, count}\n");
        return STARK_INVALID;
    }
    return STARK_OK;
}

static int upgrade(stark_runtime rt, const char *dir) {
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/upgrade-v1.wasm", dir);
    snprintf(p2, sizeof p2, "%s/upgrade-v2.wasm", dir);
    stark_module v1, v2;
    stark_status st;
    if ((st = stark_wasm_load_file(rt, p1, 0, &v1)) != STARK_OK) return failed(p1, st);
    if ((st = stark_wasm_load_file(rt, p2, 0, &v2)) != STARK_OK) return failed(p2, st);

    /* The sender waits for room rather than fail when the mailbox is full. */
    stark_spawn_opts so = {
        .struct_size = sizeof so,
        .overflow = STARK_OVERFLOW_WAIT,
        .overflow_wait_ns = 5000000000ull,
    };
    stark_ref ref;
    if ((st = stark_spawn_wasm(rt, v1, NULL, &so, &ref)) != STARK_OK) return failed("stark_spawn_wasm v1", st);

    sender s = {.rt = rt, .ref = ref};
    pthread_t th;
    if (pthread_create(&th, NULL, send_adds, &s) != 0) {
        fprintf(stderr, "wasm: pthread_create failed\n");
        return 1;
    }
    /* Let the adds start flowing (a sleep, not a spin: the runtime needs the cores). */
    while (__atomic_load_n(&s.sent, __ATOMIC_ACQUIRE) < 2000 && __atomic_load_n(&s.st, __ATOMIC_ACQUIRE) == STARK_OK)
        nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
    state before = {0};
    st = get_state(rt, ref, &before);
    int at_call = __atomic_load_n(&s.sent, __ATOMIC_ACQUIRE);
    if (st == STARK_OK) {
        printf("upgrade: v1 answers version %lld, total %lld, count %lld (adds keep coming)\n",
               (long long)before.version, (long long)before.total, (long long)before.count);
        st = stark_wasm_upgrade(rt, ref, v2, 5000000000ull);
        if (st != STARK_OK) failed("stark_wasm_upgrade", st);
    } else {
        failed("get (v1)", st);
    }
    int at_return = __atomic_load_n(&s.sent, __ATOMIC_ACQUIRE);
    __atomic_store_n(&s.upgraded, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    if (st != STARK_OK) return 1;
    if (s.st != STARK_OK) {
        fprintf(stderr, "wasm: stark_send: %s: %s\n", stark_status_name(s.st), s.err);
        return 1;
    }
    printf("upgrade: stark_wasm_upgrade(v1 -> v2) ok; adds sent: %d before the call, %d during it, %d after\n",
           at_call, at_return - at_call, s.sent - at_return);
    state after = {0};
    if ((st = get_state(rt, ref, &after)) != STARK_OK) return failed("get (v2)", st);
    printf("upgrade: v2 answers version %lld, total %lld, count %lld\n", (long long)after.version,
           (long long)after.total, (long long)after.count);
    if (after.version != 2 || after.total != s.sent || after.count != s.sent) {
        fprintf(stderr, "wasm: want version 2, total and count %d: state was lost\n", s.sent);
        return 1;
    }
    printf("upgrade: the state survived the upgrade, no message lost\n");
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "build/wasm";
    stark_runtime rt;
    stark_status st = stark_runtime_new(NULL, &rt);
    if (st != STARK_OK) return failed("stark_runtime_new", st);
    int rc = counter(rt, dir);
    if (rc == 0) rc = upgrade(rt, dir);
    if ((st = stark_runtime_free(rt)) != STARK_OK) return failed("stark_runtime_free", st);
    return rc;
}
