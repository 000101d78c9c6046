/*
 * t_supervisor: stark_supervisor_start with native children. One-for-one:
 * crash one child (its handler returns a failure), it restarts under its
 * name, the other is untouched (same ref, same state, one start). Each
 * child spec's free_user_data runs exactly once, after the supervisor has
 * terminated. One-for-all and rest-for-one restart the right siblings;
 * PERMANENT/TRANSIENT/TEMPORARY after a normal stop; a supervisor that
 * allows no restarts gives up. Bad specs are STARK_INVALID and take
 * nothing; a taken supervisor name too.
 */
#include "t.h"

enum { TAG_GET = 1, TAG_FAIL };

typedef struct child {
    const char *name;
    atomic_int starts, frees, handled;
    atomic_int sup_alive_at_free; /* stark_alive(sup) seen by free_user_data */
} child;

static stark_runtime rt;
static stark_ref current_sup;

static stark_status c_start(stark_ctx ctx, void *ud) {
    (void)ctx;
    atomic_fetch_add(&((child *)ud)->starts, 1);
    return STARK_OK;
}

static stark_status c_handle(stark_ctx ctx, const stark_msg *m, void *ud) {
    child *c = ud;
    int n = atomic_fetch_add(&c->handled, 1) + 1;
    if (m->tag == TAG_FAIL) {
        stark_ctx_fail(ctx, "supervised child fails on purpose");
        return STARK_INTERNAL;
    }
    return stark_ctx_reply(ctx, TAG_GET, &n, sizeof n);
}

static void c_free(void *ud) {
    child *c = ud;
    atomic_store(&c->sup_alive_at_free, stark_alive(rt, current_sup));
    atomic_fetch_add(&c->frees, 1);
}

static void child_init(child *c, const char *name) {
    memset(c, 0, sizeof *c);
    c->name = name;
    atomic_store(&c->sup_alive_at_free, -1);
}

static stark_actor_def def_of(child *c) {
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = c_handle;
    d.on_start = c_start;
    d.user_data = c;
    d.free_user_data = c_free;
    return d;
}

static stark_child_spec spec_of(const stark_actor_def *d, const char *name, uint32_t restart) {
    stark_child_spec s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.restart = restart;
    s.name = name;
    s.def = d;
    return s;
}

static stark_supervisor_spec sup_spec(uint32_t strategy, const stark_child_spec *children, size_t n) {
    stark_supervisor_spec s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.strategy = strategy;
    s.children = children;
    s.n_children = n;
    return s;
}

static stark_ref lookup(const char *name) {
    stark_ref r = 0;
    OK(stark_lookup(rt, name, &r));
    return r;
}

/* Asks the child named name for its message count. */
static int ask_count(const char *name) {
    stark_reply r = t_reply();
    stark_status st = STARK_OK;
    for (int i = 0; i < 200; i++) { /* the name may be between incarnations */
        stark_ref ref = 0;
        if (stark_lookup(rt, name, &ref) == STARK_OK && (st = stark_ask(rt, ref, TAG_GET, NULL, 0, T_SEC, &r)) == STARK_OK)
            break;
        t_sleep_ms(2);
    }
    CHECKF(st == STARK_OK && r.len == sizeof(int), "ask %s: %d %s", name, (int)st, stark_last_error());
    int n;
    memcpy(&n, r.data, sizeof n);
    stark_reply_free(&r);
    return n;
}

static void crash(const char *name) {
    stark_reply r = t_reply();
    EXPECT(stark_ask(rt, lookup(name), TAG_FAIL, NULL, 0, 2 * T_SEC, &r), STARK_FAILED);
    CHECKF(strstr(stark_last_error(), "supervised child fails on purpose") != NULL, "%s", stark_last_error());
}

static void stop_sup(stark_ref sup, child **cs, int n) {
    OK(stark_stop(rt, sup));
    for (int i = 0; i < n; i++) WAIT_UNTIL(atomic_load(&cs[i]->frees) == 1, 3000);
    EXPECT(stark_alive(rt, sup), STARK_NOT_FOUND);
    t_sleep_ms(10);
    for (int i = 0; i < n; i++) {
        CHECK(atomic_load(&cs[i]->frees) == 1);
        CHECKF(atomic_load(&cs[i]->sup_alive_at_free) == STARK_NOT_FOUND, "%s freed while the supervisor lived",
               cs[i]->name);
    }
}

static void one_for_one(void) {
    child a, b;
    child_init(&a, "o41-a");
    child_init(&b, "o41-b");
    stark_actor_def da = def_of(&a), db = def_of(&b);
    stark_child_spec cs[2] = {spec_of(&da, "o41-a", STARK_PERMANENT), spec_of(&db, "o41-b", STARK_PERMANENT)};
    stark_supervisor_spec s = sup_spec(STARK_ONE_FOR_ONE, cs, 2);
    s.name = "o41-sup";
    stark_ref sup = 0;
    OK(stark_supervisor_start(rt, &s, &sup));
    current_sup = sup;
    CHECK(sup != 0);
    CHECK(lookup("o41-sup") == sup);
    /* Started in order before stark_supervisor_start returned. */
    CHECK(atomic_load(&a.starts) == 1 && atomic_load(&b.starts) == 1);
    stark_ref ra = lookup("o41-a"), rb = lookup("o41-b");
    CHECK(ra != rb && ra != sup);
    CHECK(ask_count("o41-a") == 1);
    CHECK(ask_count("o41-b") == 1);
    CHECK(ask_count("o41-b") == 2);

    crash("o41-a");
    WAIT_UNTIL(atomic_load(&a.starts) == 2, 2000);
    CHECK(ask_count("o41-a") == 3); /* same user data: the count goes on */
    /* The sibling is untouched. */
    CHECK(atomic_load(&b.starts) == 1);
    CHECK(lookup("o41-b") == rb);
    OK(stark_alive(rt, rb));
    CHECK(ask_count("o41-b") == 3);
    CHECK(atomic_load(&a.frees) == 0 && atomic_load(&b.frees) == 0);
    OK(stark_alive(rt, sup));

    child *all[] = {&a, &b};
    stop_sup(sup, all, 2);
    EXPECT(stark_alive(rt, rb), STARK_NOT_FOUND);
}

static void one_for_all_and_rest_for_one(void) {
    child a, b, c;
    child_init(&a, "ofa-a");
    child_init(&b, "ofa-b");
    child_init(&c, "ofa-c");
    stark_actor_def da = def_of(&a), db = def_of(&b), dc = def_of(&c);
    stark_child_spec cs[3] = {spec_of(&da, "ofa-a", STARK_PERMANENT), spec_of(&db, "ofa-b", STARK_PERMANENT),
                              spec_of(&dc, "ofa-c", STARK_PERMANENT)};
    stark_supervisor_spec s = sup_spec(STARK_ONE_FOR_ALL, cs, 3);
    stark_ref sup;
    OK(stark_supervisor_start(rt, &s, &sup));
    current_sup = sup;
    crash("ofa-b");
    WAIT_UNTIL(atomic_load(&a.starts) == 2 && atomic_load(&b.starts) == 2 && atomic_load(&c.starts) == 2, 2000);
    child *all[] = {&a, &b, &c};
    stop_sup(sup, all, 3);

    child_init(&a, "rfo-a");
    child_init(&b, "rfo-b");
    child_init(&c, "rfo-c");
    cs[0].name = "rfo-a";
    cs[1].name = "rfo-b";
    cs[2].name = "rfo-c";
    s.strategy = STARK_REST_FOR_ONE;
    OK(stark_supervisor_start(rt, &s, &sup));
    current_sup = sup;
    crash("rfo-b"); /* b and the ones after it */
    WAIT_UNTIL(atomic_load(&b.starts) == 2 && atomic_load(&c.starts) == 2, 2000);
    CHECK(atomic_load(&a.starts) == 1);
    crash("rfo-c");
    WAIT_UNTIL(atomic_load(&c.starts) == 3, 2000);
    CHECK(atomic_load(&a.starts) == 1 && atomic_load(&b.starts) == 2);
    stop_sup(sup, all, 3);
}

static void restart_kinds(void) {
    child p, t, x;
    child_init(&p, "perm");
    child_init(&t, "trans");
    child_init(&x, "temp");
    stark_actor_def dp = def_of(&p), dt = def_of(&t), dx = def_of(&x);
    stark_child_spec cs[3] = {spec_of(&dp, "perm", STARK_PERMANENT), spec_of(&dt, "trans", STARK_TRANSIENT),
                              spec_of(&dx, "temp", STARK_TEMPORARY)};
    stark_supervisor_spec s = sup_spec(STARK_ONE_FOR_ONE, cs, 3);
    s.max_restarts = 10;
    s.backoff = STARK_BACKOFF_LINEAR;
    s.backoff_ns = 2 * T_MS;
    s.backoff_max_ns = 10 * T_MS;
    s.jitter = 0.5;
    stark_ref sup;
    OK(stark_supervisor_start(rt, &s, &sup));
    current_sup = sup;
    stark_ref rp = lookup("perm"), rt_ = lookup("trans"), rx = lookup("temp");
    /* A normal stop: only PERMANENT comes back. */
    OK(stark_stop(rt, rp));
    OK(stark_stop(rt, rt_));
    OK(stark_stop(rt, rx));
    WAIT_UNTIL(atomic_load(&p.starts) == 2, 2000);
    WAIT_UNTIL(stark_alive(rt, rt_) == STARK_NOT_FOUND && stark_alive(rt, rx) == STARK_NOT_FOUND, 2000);
    t_sleep_ms(30);
    CHECK(atomic_load(&t.starts) == 1 && atomic_load(&x.starts) == 1);
    /* A child spec's user data lives until the supervisor ends, even when
     * its child is gone for good. */
    CHECK(atomic_load(&t.frees) == 0 && atomic_load(&x.frees) == 0);
    child *all[] = {&p, &t, &x};
    stop_sup(sup, all, 3);

    /* A failure: TRANSIENT comes back, TEMPORARY does not. */
    child_init(&p, "perm");
    child_init(&t, "trans");
    child_init(&x, "temp");
    OK(stark_supervisor_start(rt, &s, &sup));
    current_sup = sup;
    rx = lookup("temp");
    crash("trans");
    crash("temp");
    WAIT_UNTIL(atomic_load(&t.starts) == 2, 2000);
    WAIT_UNTIL(stark_alive(rt, rx) == STARK_NOT_FOUND, 2000);
    t_sleep_ms(30);
    CHECK(atomic_load(&x.starts) == 1);
    stop_sup(sup, all, 3);
}

/* A supervisor that allows no restarts gives up at the first failure and
 * fails itself; the root restarts it (top-level actors are restarted by
 * default), which starts its child afresh. The spec's user data lives on. */
static void gives_up(void) {
    child a;
    child_init(&a, "fragile");
    stark_actor_def da = def_of(&a);
    stark_child_spec cs[1] = {spec_of(&da, "fragile", STARK_PERMANENT)};
    stark_supervisor_spec s = sup_spec(STARK_ONE_FOR_ONE, cs, 1);
    s.max_restarts = -1; /* none allowed */
    stark_ref sup;
    OK(stark_supervisor_start(rt, &s, &sup));
    current_sup = sup;
    stark_metrics m0, m1;
    memset(&m0, 0, sizeof m0);
    m0.struct_size = sizeof m0;
    m1 = m0;
    OK(stark_runtime_metrics(rt, &m0));
    crash("fragile");
    WAIT_UNTIL(atomic_load(&a.starts) == 2, 3000);
    OK(stark_alive(rt, sup));
    CHECK(atomic_load(&a.frees) == 0);
    OK(stark_runtime_metrics(rt, &m1));
    CHECKF(m1.failures > m0.failures && m1.restarts > m0.restarts, "failures %llu -> %llu",
           (unsigned long long)m0.failures, (unsigned long long)m1.failures);
    CHECK(ask_count("fragile") == 2);
    child *all[] = {&a};
    stop_sup(sup, all, 1);
}

static void bad_specs(void) {
    child a;
    child_init(&a, "bad");
    stark_actor_def da = def_of(&a);
    stark_child_spec cs[2] = {spec_of(&da, "bad-a", STARK_PERMANENT), spec_of(&da, "bad-b", STARK_PERMANENT)};
    stark_supervisor_spec s;
    stark_ref sup = 5;
#define BAD(mutate)                                                                                                \
    do {                                                                                                           \
        s = sup_spec(STARK_ONE_FOR_ONE, cs, 2);                                                                    \
        cs[0] = spec_of(&da, "bad-a", STARK_PERMANENT);                                                            \
        cs[1] = spec_of(&da, "bad-b", STARK_PERMANENT);                                                            \
        mutate;                                                                                                    \
        EXPECT(stark_supervisor_start(rt, &s, &sup), STARK_INVALID);                                               \
        CHECK(sup == 0);                                                                                           \
    } while (0)
    BAD(s.struct_size = 8);
    BAD(s.struct_size = 0);
    BAD(s.strategy = 3);
    BAD(s.strategy = UINT32_MAX);
    BAD(s.backoff = 3);
    BAD(s.jitter = 1.5);
    BAD(s.jitter = -0.1);
    BAD(s.jitter = 0.0 / 0.0);
    BAD(s.children = NULL);
    BAD(s.n_children = SIZE_MAX);
    BAD(cs[1].restart = 3);
    BAD(cs[0].struct_size = 4);
    BAD(cs[1].def = NULL);                 /* neither def nor module */
    BAD(cs[1].module = 0x100000001ull);    /* both */
    stark_actor_def no_handler = da;
    no_handler.handle = NULL;
    BAD(cs[1].def = &no_handler);
    stark_actor_def small_def = da;
    small_def.struct_size = 8;
    BAD(cs[0].def = &small_def);
    EXPECT(stark_supervisor_start(rt, NULL, &sup), STARK_INVALID);
    s = sup_spec(STARK_ONE_FOR_ONE, cs, 2);
    EXPECT(stark_supervisor_start(rt, &s, NULL), STARK_INVALID);
    CHECK(atomic_load(&a.frees) == 0 && atomic_load(&a.starts) == 0); /* nothing taken, nothing run */

    /* A taken supervisor name: STARK_INVALID, nothing taken. */
    child b;
    child_init(&b, "named");
    stark_actor_def db = def_of(&b);
    stark_child_spec one[1] = {spec_of(&db, NULL, STARK_PERMANENT)};
    s = sup_spec(STARK_ONE_FOR_ONE, one, 1);
    s.name = "sup-name";
    stark_ref first;
    OK(stark_supervisor_start(rt, &s, &first));
    child c;
    child_init(&c, "second");
    stark_actor_def dc = def_of(&c);
    one[0] = spec_of(&dc, NULL, STARK_PERMANENT);
    EXPECT(stark_supervisor_start(rt, &s, &sup), STARK_INVALID);
    t_sleep_ms(20);
    CHECKF(atomic_load(&c.frees) == 0, "a child spec's user data was freed after STARK_INVALID");
    current_sup = first;
    child *bs[] = {&b};
    stop_sup(first, bs, 1);

    /* No children is a valid (idle) supervisor. */
    s = sup_spec(STARK_REST_FOR_ONE, NULL, 0);
    OK(stark_supervisor_start(rt, &s, &sup));
    OK(stark_stop(rt, sup));
    WAIT_UNTIL(stark_alive(rt, sup) == STARK_NOT_FOUND, 2000);

    /* A stopped runtime takes (and frees) the children's user data. */
    stark_runtime rt2;
    OK(stark_runtime_new(NULL, &rt2));
    OK(stark_runtime_shutdown(rt2, 0));
    child_init(&c, "late");
    one[0] = spec_of(&dc, NULL, STARK_PERMANENT);
    s = sup_spec(STARK_ONE_FOR_ONE, one, 1);
    EXPECT(stark_supervisor_start(rt2, &s, &sup), STARK_STOPPED);
    CHECK(atomic_load(&c.frees) == 1);
    OK(stark_runtime_free(rt2));
    EXPECT(stark_supervisor_start(rt2, &s, &sup), STARK_NOT_FOUND);
    CHECK(atomic_load(&c.frees) == 2);
}

int main(void) {
    t_begin("t_supervisor");
    stark_config cfg;
    stark_config_init(&cfg);
    cfg.workers = 2;
    OK(stark_runtime_new(&cfg, &rt));
    one_for_one();
    one_for_all_and_rest_for_one();
    restart_kinds();
    gives_up();
    bad_specs();
    OK(stark_runtime_free(rt));
    t_end();
    return 0;
}
