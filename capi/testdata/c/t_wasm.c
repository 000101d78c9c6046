/*
 * t_wasm: WASM actors from C. stark_wasm_load_file and stark_wasm_load
 * (bytes) of counter-c.wasm (one compile for the same bytes); spawn with
 * init bytes (msgpack 10), ask add 5 -> 15; a guest failure is
 * STARK_FAILED with the guest's reason and the actor restarts from its
 * init bytes; malformed bytes and modules that break the contract are
 * STARK_INVALID with a message; a missing file is STARK_NOT_FOUND; a hot
 * upgrade upgrade-v1 -> upgrade-v2 carries the state (the "get" map's
 * "version" goes 1 -> 2, total and count kept); a failing upgrade keeps
 * the old module; module handles (free, stale, another runtime's); a
 * supervised WASM child; bad wasm_opts.
 * argv[1]: the directory of the built guests (default build/wasm).
 */
#include "t.h"

static const char *dir = "build/wasm";
static stark_runtime rt;

static char *path_of(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static unsigned char *read_file(const char *name, size_t *len) {
    FILE *f = fopen(path_of(name), "rb");
    CHECKF(f != NULL, "cannot open %s (run make guests)", path_of(name));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    CHECK(fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* A minimal msgpack reader: ints, and fixmaps with fixstr keys. */
static int mp_int(const unsigned char **p, const unsigned char *end, int64_t *v) {
    if (*p >= end) return 0;
    unsigned char c = *(*p)++;
    if (c <= 0x7f) {
        *v = c;
        return 1;
    }
    if (c >= 0xe0) {
        *v = (int8_t)c;
        return 1;
    }
    int n = c == 0xcc || c == 0xd0 ? 1 : c == 0xcd || c == 0xd1 ? 2 : c == 0xce || c == 0xd2 ? 4 : c == 0xcf || c == 0xd3 ? 8 : 0;
    if (n == 0 || end - *p < n) return 0;
    uint64_t u = 0;
    for (int i = 0; i < n; i++) u = u << 8 | *(*p)++;
    if (c >= 0xd0 && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~0ull << (8 * n); /* sign-extend */
    *v = (int64_t)u;
    return 1;
}

/* The int under key in a fixmap of fixstr keys and int values. */
static int mp_map_get(const unsigned char *p, size_t len, const char *key, int64_t *v) {
    const unsigned char *end = p + len;
    if (len == 0 || (*p & 0xf0) != 0x80) return 0;
    int n = *p++ & 0x0f;
    for (int i = 0; i < n; i++) {
        if (p >= end || (*p & 0xe0) != 0xa0) return 0;
        size_t kl = *p++ & 0x1f;
        if ((size_t)(end - p) < kl) return 0;
        int match = kl == strlen(key) && memcmp(p, key, kl) == 0;
        p += kl;
        int64_t x;
        if (!mp_int(&p, end, &x)) return 0;
        if (match) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

static stark_metrics metrics(void) {
    stark_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    OK(stark_runtime_metrics(rt, &m));
    return m;
}

static stark_wasm_opts wopts(const void *init, size_t n) {
    stark_wasm_opts o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.init = init;
    o.init_len = n;
    return o;
}

static int64_t ask_int(stark_ref ref, uint32_t tag, const void *data, size_t n) {
    stark_reply r = t_reply();
    OK(stark_ask(rt, ref, tag, data, n, 5 * T_SEC, &r));
    CHECK(r.tag == tag && r.len >= 1);
    const unsigned char *p = r.data;
    int64_t v = 0;
    CHECK(mp_int(&p, p + r.len, &v));
    stark_reply_free(&r);
    return v;
}

static void counter(void) {
    stark_module m1 = 0, m2 = 0;
    OK(stark_wasm_load_file(rt, path_of("counter-c.wasm"), 0, &m1));
    CHECK(m1 != 0);
    size_t len;
    unsigned char *bytes = read_file("counter-c.wasm", &len);
    OK(stark_wasm_load(rt, bytes, len, "counter-c", 0, &m2));
    CHECK(m2 != 0);
    CHECK(metrics().wasm_compiles == 1); /* the same bytes compile once */
    free(bytes);

    unsigned char init = 0x0a; /* msgpack 10 */
    stark_wasm_opts o = wopts(&init, 1);
    stark_ref a = 0, b = 0;
    OK(stark_spawn_wasm(rt, m1, &o, NULL, &a));
    init = 0x00; /* copied at the call: a still starts from 10 */
    stark_spawn_opts so;
    memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.name = "wasm-counter";
    OK(stark_spawn_wasm(rt, m2, NULL, &so, &b)); /* no init: from 0 */
    stark_ref found;
    OK(stark_lookup(rt, "wasm-counter", &found));
    CHECK(found == b);
    unsigned char five = 0x05;
    stark_reply r = t_reply();
    OK(stark_ask(rt, a, 1, &five, 1, 5 * T_SEC, &r));
    CHECK(r.tag == 1 && r.len == 1 && ((unsigned char *)r.data)[0] == 0x0f && r.sender == a);
    OK(stark_reply_free(&r));
    CHECK(ask_int(a, 2, NULL, 0) == 15);
    CHECK(ask_int(b, 1, &five, 1) == 5);
    unsigned char minus300[3] = {0xd1, 0xfe, 0xd4}; /* int16 -300 */
    CHECK(ask_int(b, 1, minus300, 3) == -295);
    for (int i = 0; i < 100; i++) OK(stark_send(rt, a, 1, &five, 1));
    CHECK(ask_int(a, 2, NULL, 0) == 515);
    CHECK(metrics().wasm_instances >= 2);

    /* A guest failure: STARK_FAILED with the guest's reason; the actor
     * restarts from its init bytes. */
    EXPECT(stark_ask(rt, a, 1, "xx", 2, 5 * T_SEC, &r), STARK_FAILED);
    CHECKF(strstr(stark_last_error(), "counter-c: add wants one msgpack integer") != NULL, "%s",
           stark_last_error());
    WAIT_UNTIL(t_dead_letters(rt, a, STARK_FAILED, 1, NULL, 0) == 1, 2000); /* filed just after the ask ended */
    CHECK(ask_int(a, 2, NULL, 0) == 10);
    EXPECT(stark_ask(rt, a, 99, NULL, 0, 5 * T_SEC, &r), STARK_FAILED);
    CHECK(strstr(stark_last_error(), "unknown tag") != NULL);

    /* Init bytes the guest refuses. The header does not say; the library
     * spawns, the actor fails at every start and the root gives up on it
     * after a few restarts. Either way it must not stay alive. */
    unsigned char bad_init[2] = {0xc1, 0xc1};
    o = wopts(bad_init, 2);
    stark_ref c = 7;
    stark_status st = stark_spawn_wasm(rt, m1, &o, NULL, &c);
    if (st == STARK_OK)
        WAIT_UNTIL(stark_alive(rt, c) == STARK_NOT_FOUND, 5000);
    else
        CHECK(c == 0 && stark_last_error()[0] != 0);

    /* The module handle: freeing it leaves running actors alone. */
    OK(stark_module_free(rt, m1));
    EXPECT(stark_module_free(rt, m1), STARK_NOT_FOUND);
    o = wopts(NULL, 0);
    EXPECT(stark_spawn_wasm(rt, m1, &o, NULL, &c), STARK_NOT_FOUND);
    CHECK(ask_int(a, 2, NULL, 0) == 10);
    OK(stark_spawn_wasm(rt, m2, &o, NULL, &c)); /* the other handle still works */
    OK(stark_wasm_register(rt, "counter", m2));
    EXPECT(stark_wasm_register(rt, "", m2), STARK_INVALID);
    EXPECT(stark_wasm_register(rt, NULL, m2), STARK_INVALID);
    EXPECT(stark_wasm_register(rt, "x", m1), STARK_NOT_FOUND);
    OK(stark_stop(rt, a));
    OK(stark_stop(rt, b));
    OK(stark_stop(rt, c));
    OK(stark_module_free(rt, m2));
}

static void bad_modules(void) {
    stark_module m = 5;
    EXPECT(stark_wasm_load_file(rt, path_of("no-such-module.wasm"), 0, &m), STARK_NOT_FOUND);
    CHECK(m == 0);
    EXPECT(stark_wasm_load_file(rt, "/nonexistent/dir/x.wasm", 0, &m), STARK_NOT_FOUND);
    static const unsigned char junk[] = "this is not WebAssembly";
    EXPECT(stark_wasm_load(rt, junk, sizeof junk, "junk", 0, &m), STARK_INVALID);
    CHECK(strlen(stark_last_error()) > 10);
    static const unsigned char truncated[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0xff};
    EXPECT(stark_wasm_load(rt, truncated, sizeof truncated, NULL, 0, &m), STARK_INVALID);
    /* Valid WebAssembly that breaks the guest contract: the message says what. */
    EXPECT(stark_wasm_load_file(rt, path_of("c-missing-handle.wasm"), 0, &m), STARK_INVALID);
    CHECKF(strstr(stark_last_error(), "stark_handle") != NULL, "%s", stark_last_error());
    EXPECT(stark_wasm_load_file(rt, path_of("c-command.wasm"), 0, &m), STARK_INVALID);
    EXPECT(stark_wasm_load_file(rt, path_of("c-bad-signature.wasm"), 0, &m), STARK_INVALID);
    /* Arguments. */
    EXPECT(stark_wasm_load(rt, NULL, 10, NULL, 0, &m), STARK_INVALID);
    EXPECT(stark_wasm_load(rt, junk, 0, NULL, 0, &m), STARK_INVALID);
    EXPECT(stark_wasm_load(rt, junk, SIZE_MAX, NULL, 0, &m), STARK_TOO_LARGE);
    EXPECT(stark_wasm_load(rt, junk, sizeof junk, NULL, 0, NULL), STARK_INVALID);
    EXPECT(stark_wasm_load_file(rt, NULL, 0, &m), STARK_INVALID);
    EXPECT(stark_wasm_load_file(rt, "", 0, &m), STARK_INVALID);
    EXPECT(stark_wasm_load_file(rt, path_of("counter-c.wasm"), 0, NULL), STARK_INVALID);
    EXPECT(stark_wasm_load_file(rt, path_of("counter-c.wasm"), 0x80, &m), STARK_INVALID); /* unknown flag */
    EXPECT(stark_spawn_wasm(rt, 0, NULL, NULL, &(stark_ref){0}), STARK_NOT_FOUND);
    EXPECT(stark_module_free(rt, 0), STARK_NOT_FOUND);
}

static void bad_opts(void) {
    stark_module m;
    OK(stark_wasm_load_file(rt, path_of("counter-c.wasm"), STARK_WASM_TRUSTED, &m));
    stark_ref ref = 3;
    stark_wasm_opts o = wopts(NULL, 0);
    o.struct_size = 8;
    EXPECT(stark_spawn_wasm(rt, m, &o, NULL, &ref), STARK_INVALID);
    CHECK(ref == 0);
    o = wopts(NULL, 4); /* init NULL with a length */
    EXPECT(stark_spawn_wasm(rt, m, &o, NULL, &ref), STARK_INVALID);
    o = wopts(NULL, 0);
    const char *dirs[] = {"no-colon-here"};
    o.ro_dirs = dirs;
    o.n_ro_dirs = 1;
    EXPECT(stark_spawn_wasm(rt, m, &o, NULL, &ref), STARK_INVALID);
    const char *null_dir[] = {NULL};
    o.ro_dirs = null_dir;
    EXPECT(stark_spawn_wasm(rt, m, &o, NULL, &ref), STARK_INVALID);
    o.ro_dirs = NULL; /* NULL with a count */
    EXPECT(stark_spawn_wasm(rt, m, &o, NULL, &ref), STARK_INVALID);
    o = wopts(NULL, 0);
    o.n_env = 1; /* env NULL with a count */
    EXPECT(stark_spawn_wasm(rt, m, &o, NULL, &ref), STARK_INVALID);
    o = wopts(NULL, 0);
    o.n_spawn = SIZE_MAX;
    EXPECT(stark_spawn_wasm(rt, m, &o, NULL, &ref), STARK_INVALID);
    stark_spawn_opts so;
    memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.overflow = 7;
    EXPECT(stark_spawn_wasm(rt, m, NULL, &so, &ref), STARK_INVALID);
    EXPECT(stark_spawn_wasm(rt, m, NULL, NULL, NULL), STARK_INVALID);
    /* Limits that the guest fits: it works. */
    o = wopts(NULL, 0);
    o.memory_pages = 4;
    o.deadline_ns = 2 * T_SEC;
    o.max_message = 1024;
    OK(stark_spawn_wasm(rt, m, &o, NULL, &ref));
    unsigned char one = 1;
    CHECK(ask_int(ref, 1, &one, 1) == 1);
    unsigned char big[2048];
    memset(big, 0, sizeof big);
    stark_reply r = t_reply();
    stark_status st = stark_ask(rt, ref, 1, big, sizeof big, 2 * T_SEC, &r); /* over max_message */
    CHECKF(st != STARK_OK && stark_last_error()[0] != 0, "an over-limit message: %d", (int)st);
    OK(stark_stop(rt, ref));
    /* A module of another runtime. */
    stark_runtime other;
    OK(stark_runtime_new(NULL, &other));
    EXPECT(stark_spawn_wasm(other, m, NULL, NULL, &ref), STARK_NOT_FOUND);
    EXPECT(stark_module_free(other, m), STARK_NOT_FOUND);
    stark_module om;
    OK(stark_wasm_load_file(other, path_of("counter-c.wasm"), 0, &om));
    OK(stark_runtime_free(other)); /* frees its modules */
    EXPECT(stark_module_free(other, om), STARK_NOT_FOUND);
    EXPECT(stark_spawn_wasm(rt, om, NULL, NULL, &ref), STARK_NOT_FOUND);
    OK(stark_module_free(rt, m));
}

static void get_state(stark_ref ref, int64_t *version, int64_t *total, int64_t *count) {
    stark_reply r = t_reply();
    OK(stark_ask(rt, ref, 2, NULL, 0, 5 * T_SEC, &r));
    CHECK(r.tag == 2);
    CHECKF(mp_map_get(r.data, r.len, "version", version) && mp_map_get(r.data, r.len, "total", total) &&
               mp_map_get(r.data, r.len, "count", count),
           "the get reply is not the expected msgpack map (%zu bytes)", r.len);
    OK(stark_reply_free(&r));
}

static void upgrade(void) {
    stark_module v1, v2, bad, counter;
    OK(stark_wasm_load_file(rt, path_of("upgrade-v1.wasm"), 0, &v1));
    OK(stark_wasm_load_file(rt, path_of("upgrade-v2.wasm"), 0, &v2));
    OK(stark_wasm_load_file(rt, path_of("upgrade-v2-badinit.wasm"), 0, &bad));
    OK(stark_wasm_load_file(rt, path_of("counter-c.wasm"), 0, &counter));
    stark_ref ref;
    OK(stark_spawn_wasm(rt, v1, NULL, NULL, &ref));
    for (unsigned char i = 1; i <= 4; i++) OK(stark_send(rt, ref, 1, &i, 1)); /* add, no reply */
    int64_t version, total, count;
    get_state(ref, &version, &total, &count);
    CHECK(version == 1 && total == 10 && count == 4);

    /* A failing upgrade leaves v1 running with its state. */
    stark_status st = stark_wasm_upgrade(rt, ref, bad, 5 * T_SEC);
    CHECKF(st != STARK_OK && stark_last_error()[0] != 0, "upgrade to a module whose init fails: %d", (int)st);
    get_state(ref, &version, &total, &count);
    CHECK(version == 1 && total == 10 && count == 4);

    OK(stark_wasm_upgrade(rt, ref, v2, 5 * T_SEC));
    get_state(ref, &version, &total, &count);
    CHECKF(version == 2 && total == 10 && count == 4, "after the upgrade: version %lld total %lld count %lld",
           (long long)version, (long long)total, (long long)count);
    unsigned char five = 5;
    OK(stark_send(rt, ref, 1, &five, 1));
    OK(stark_send(rt, ref, 3, NULL, 0)); /* v2's reset */
    OK(stark_send(rt, ref, 1, &five, 1));
    get_state(ref, &version, &total, &count);
    CHECK(version == 2 && total == 5 && count == 1);
    /* Bad upgrades. */
    EXPECT(stark_wasm_upgrade(rt, ref, 0, T_SEC), STARK_NOT_FOUND);
    EXPECT(stark_wasm_upgrade(rt, 0, v2, T_SEC), STARK_NOT_FOUND);
    OK(stark_module_free(rt, v1));
    OK(stark_stop(rt, ref));
    OK(stark_module_free(rt, v2));
    OK(stark_module_free(rt, bad));

    /* A supervised WASM child: restarted with its init bytes after a failure. */
    unsigned char init = 0x0a;
    stark_wasm_opts o = wopts(&init, 1);
    stark_child_spec cs;
    memset(&cs, 0, sizeof cs);
    cs.struct_size = sizeof cs;
    cs.name = "wasm-child";
    cs.module = counter;
    cs.wasm_opts = &o;
    stark_supervisor_spec s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.children = &cs;
    s.n_children = 1;
    stark_ref sup, child;
    OK(stark_supervisor_start(rt, &s, &sup));
    OK(stark_lookup(rt, "wasm-child", &child));
    CHECK(ask_int(child, 1, &five, 1) == 15);
    stark_reply r = t_reply();
    EXPECT(stark_ask(rt, child, 1, "\xc1", 1, 5 * T_SEC, &r), STARK_FAILED); /* 0xc1: never msgpack */
    int64_t v = -1;
    for (int i = 0; i < 500 && v != 10; i++) {
        if (stark_lookup(rt, "wasm-child", &child) == STARK_OK && stark_ask(rt, child, 2, NULL, 0, T_SEC, &r) == STARK_OK) {
            const unsigned char *p = r.data;
            mp_int(&p, p + r.len, &v);
            stark_reply_free(&r);
        } else {
            t_sleep_ms(2);
        }
    }
    CHECK(v == 10);
    OK(stark_stop(rt, sup));
    /* A child spec naming a stale module: STARK_NOT_FOUND. */
    OK(stark_module_free(rt, counter));
    EXPECT(stark_supervisor_start(rt, &s, &sup), STARK_NOT_FOUND);
}

int main(int argc, char **argv) {
    t_begin("t_wasm");
    if (argc > 1) dir = argv[1];
    stark_config cfg;
    stark_config_init(&cfg);
    cfg.wasm_memory_pages = 16;
    cfg.wasm_deadline_ns = 5 * T_SEC;
    const char *cache = getenv("STARK_CTEST_WASM_CACHE");
    if (cache && cache[0]) cfg.wasm_cache_dir = cache;
    OK(stark_runtime_new(&cfg, &rt));
    counter();
    bad_modules();
    bad_opts();
    upgrade();
    OK(stark_runtime_free(rt));
    t_end();
    return 0;
}
