/*
 * t_names: names (register, lookup, unregister, a taken name, a name
 * released with its actor), topics (three subscribers, publish delivers
 * one copy to each: delivered == 3; a second subscribe is a no-op;
 * unsubscribe; dead subscribers are not counted) and timers (send_after
 * fires once and its late cancel is STARK_NOT_FOUND; a cancelled one never
 * fires; send_every fires several times, then cancel stops it; payloads
 * are copied at the call).
 */
#include "t.h"

#define N_ACTORS 4

static stark_runtime rt;
static stark_ref refs[N_ACTORS];
static atomic_int got[N_ACTORS][4]; /* per actor, per tag 0..3 */
static atomic_int bad_payload;

static stark_status handle(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ctx;
    int i = (int)(intptr_t)ud;
    if (m->tag < 4) atomic_fetch_add(&got[i][m->tag], 1);
    if (m->len != 8 || memcmp(m->data, "payload!", 8) != 0) atomic_fetch_add(&bad_payload, 1);
    return STARK_OK;
}

static int count(int i, int tag) { return atomic_load(&got[i][tag]); }

static void names(void) {
    stark_ref found = 1;
    OK(stark_register(rt, "alpha", refs[0]));
    OK(stark_lookup(rt, "alpha", &found));
    CHECK(found == refs[0]);
    EXPECT(stark_register(rt, "alpha", refs[1]), STARK_INVALID); /* taken by a live actor */
    OK(stark_lookup(rt, "alpha", &found));
    CHECK(found == refs[0]);
    OK(stark_unregister(rt, "alpha"));
    EXPECT(stark_lookup(rt, "alpha", &found), STARK_NOT_FOUND);
    CHECK(found == 0);
    EXPECT(stark_unregister(rt, "alpha"), STARK_NOT_FOUND);
    OK(stark_register(rt, "alpha", refs[1])); /* free again */
    OK(stark_lookup(rt, "alpha", &found));
    CHECK(found == refs[1]);
    OK(stark_unregister(rt, "alpha"));
    /* Names are exact bytes: UTF-8 and a 4096-byte name are fine. */
    OK(stark_register(rt, "b\xc3\xa9ta/\xe2\x9c\x93", refs[2]));
    OK(stark_lookup(rt, "b\xc3\xa9ta/\xe2\x9c\x93", &found));
    CHECK(found == refs[2]);
    EXPECT(stark_lookup(rt, "beta", &found), STARK_NOT_FOUND);
    OK(stark_unregister(rt, "b\xc3\xa9ta/\xe2\x9c\x93"));
    char *longname = malloc(4098);
    memset(longname, 'n', 4097);
    longname[4096] = 0;
    OK(stark_register(rt, longname, refs[3]));
    OK(stark_lookup(rt, longname, &found));
    CHECK(found == refs[3]);
    OK(stark_unregister(rt, longname));
    longname[4096] = 'n';
    longname[4097] = 0;
    EXPECT(stark_register(rt, longname, refs[3]), STARK_INVALID);
    free(longname);
    /* Bad arguments. */
    EXPECT(stark_register(rt, "", refs[0]), STARK_INVALID);
    EXPECT(stark_register(rt, NULL, refs[0]), STARK_INVALID);
    EXPECT(stark_lookup(rt, "", &found), STARK_INVALID);
    EXPECT(stark_lookup(rt, NULL, &found), STARK_INVALID);
    EXPECT(stark_lookup(rt, "alpha", NULL), STARK_INVALID);
    EXPECT(stark_unregister(rt, ""), STARK_INVALID);
    EXPECT(stark_unregister(rt, NULL), STARK_INVALID);
    EXPECT(stark_register(rt, "ghost", 0), STARK_NOT_FOUND);
    EXPECT(stark_register(rt, "ghost", refs[0] + (1ull << 32)), STARK_NOT_FOUND);
}

static void name_released_with_actor(void) {
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = handle;
    stark_ref tmp, found;
    OK(stark_spawn(rt, &d, NULL, &tmp));
    OK(stark_register(rt, "short-lived", tmp));
    OK(stark_stop(rt, tmp));
    WAIT_UNTIL(stark_alive(rt, tmp) == STARK_NOT_FOUND, 2000);
    EXPECT(stark_lookup(rt, "short-lived", &found), STARK_NOT_FOUND);
    OK(stark_register(rt, "short-lived", refs[0]));
    OK(stark_unregister(rt, "short-lived"));
    EXPECT(stark_register(rt, "dead", tmp), STARK_NOT_FOUND);
}

static void topics(void) {
    uint32_t delivered = 99;
    OK(stark_publish(rt, "news", 1, "payload!", 8, &delivered)); /* nobody yet */
    CHECK(delivered == 0);
    for (int i = 0; i < 3; i++) OK(stark_subscribe(rt, "news", refs[i]));
    OK(stark_subscribe(rt, "news", refs[0])); /* twice: a no-op */
    OK(stark_publish(rt, "news", 1, "payload!", 8, &delivered));
    CHECK(delivered == 3);
    WAIT_UNTIL(count(0, 1) == 1 && count(1, 1) == 1 && count(2, 1) == 1, 2000);
    t_sleep_ms(10);
    CHECK(count(0, 1) == 1 && count(3, 1) == 0);
    OK(stark_publish(rt, "news", 1, "payload!", 8, NULL)); /* delivered may be NULL */
    WAIT_UNTIL(count(0, 1) == 2 && count(1, 1) == 2 && count(2, 1) == 2, 2000);
    OK(stark_publish(rt, "other", 1, "payload!", 8, &delivered));
    CHECK(delivered == 0);
    OK(stark_unsubscribe(rt, "news", refs[1]));
    OK(stark_unsubscribe(rt, "news", refs[3])); /* never subscribed: fine */
    OK(stark_publish(rt, "news", 1, "payload!", 8, &delivered));
    CHECK(delivered == 2);
    WAIT_UNTIL(count(0, 1) == 3 && count(2, 1) == 3, 2000);
    CHECK(count(1, 1) == 2);
    EXPECT(stark_subscribe(rt, "news", 0), STARK_NOT_FOUND);
    EXPECT(stark_subscribe(rt, "news", refs[0] ^ (1ull << 40)), STARK_NOT_FOUND);
    EXPECT(stark_subscribe(rt, "", refs[0]), STARK_INVALID);
    EXPECT(stark_subscribe(rt, NULL, refs[0]), STARK_INVALID);
    EXPECT(stark_unsubscribe(rt, NULL, refs[0]), STARK_INVALID);
    EXPECT(stark_publish(rt, NULL, 1, "payload!", 8, &delivered), STARK_INVALID);
    EXPECT(stark_publish(rt, "", 1, "payload!", 8, &delivered), STARK_INVALID);
    EXPECT(stark_publish(rt, "news", 1, NULL, 8, &delivered), STARK_INVALID);
    CHECK(delivered == 0);
    EXPECT(stark_publish(rt, "news", 1, "payload!", SIZE_MAX, &delivered), STARK_TOO_LARGE);
    CHECK(atomic_load(&bad_payload) == 0);
}

static void timers(void) {
    /* A one-shot fires once; cancelling it afterwards is STARK_NOT_FOUND. */
    char payload[9] = "payload!";
    stark_timer t = 0;
    OK(stark_send_after(rt, 20 * T_MS, refs[0], 2, payload, 8, &t));
    CHECK(t != 0);
    memcpy(payload, "changed!", 8); /* copied at the call */
    WAIT_UNTIL(count(0, 2) == 1, 2000);
    t_sleep_ms(60);
    CHECK(count(0, 2) == 1);
    EXPECT(stark_timer_cancel(rt, t), STARK_NOT_FOUND);
    EXPECT(stark_timer_cancel(rt, t), STARK_NOT_FOUND);
    memcpy(payload, "payload!", 8);

    /* Cancelled before it fires: it never does; a second cancel is STARK_NOT_FOUND. */
    OK(stark_send_after(rt, 50 * T_MS, refs[1], 2, payload, 8, &t));
    OK(stark_timer_cancel(rt, t));
    EXPECT(stark_timer_cancel(rt, t), STARK_NOT_FOUND);
    OK(stark_send_after(rt, 10 * T_MS, refs[1], 3, payload, 8, NULL)); /* no handle wanted */
    WAIT_UNTIL(count(1, 3) == 1, 2000);
    t_sleep_ms(60);
    CHECK(count(1, 2) == 0);

    /* A periodic timer fires until cancelled. */
    OK(stark_send_every(rt, 5 * T_MS, refs[2], 2, payload, 8, &t));
    WAIT_UNTIL(count(2, 2) >= 5, 2000);
    OK(stark_timer_cancel(rt, t));
    t_sleep_ms(15);
    int n = count(2, 2);
    t_sleep_ms(40);
    CHECKF(count(2, 2) == n, "fired after cancel: %d then %d", n, count(2, 2));
    EXPECT(stark_timer_cancel(rt, t), STARK_NOT_FOUND);

    /* Bad timers. */
    stark_timer t2 = 77;
    EXPECT(stark_send_every(rt, 0, refs[2], 2, payload, 8, &t2), STARK_INVALID);
    CHECK(t2 == 0);
    EXPECT(stark_send_after(rt, T_MS, 0, 2, payload, 8, &t2), STARK_NOT_FOUND);
    EXPECT(stark_send_every(rt, T_MS, refs[2] + (1ull << 32), 2, payload, 8, &t2), STARK_NOT_FOUND);
    EXPECT(stark_send_after(rt, T_MS, refs[2], 2, NULL, 8, &t2), STARK_INVALID);
    EXPECT(stark_send_every(rt, T_MS, refs[2], 2, NULL, 1, &t2), STARK_INVALID);
    EXPECT(stark_timer_cancel(rt, 0), STARK_NOT_FOUND);
    EXPECT(stark_timer_cancel(rt, 0x123456789abcull), STARK_NOT_FOUND);
    /* A timer of one runtime is unknown to another. */
    stark_runtime other;
    OK(stark_runtime_new(NULL, &other));
    OK(stark_send_after(rt, 10 * T_SEC, refs[3], 2, payload, 8, &t));
    EXPECT(stark_timer_cancel(other, t), STARK_NOT_FOUND);
    OK(stark_timer_cancel(rt, t));
    /* A timer left pending when its runtime is freed is released with it. */
    stark_ref oref;
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = handle;
    d.user_data = (void *)(intptr_t)3;
    OK(stark_spawn(other, &d, NULL, &oref));
    OK(stark_send_every(other, T_MS, oref, 0, payload, 8, &t));
    OK(stark_send_after(other, 10 * T_SEC, oref, 0, payload, 8, &t2));
    OK(stark_runtime_free(other));
    EXPECT(stark_timer_cancel(other, t), STARK_NOT_FOUND);
    EXPECT(stark_timer_cancel(rt, t2), STARK_NOT_FOUND);
}

int main(void) {
    t_begin("t_names");
    OK(stark_runtime_new(NULL, &rt));
    for (int i = 0; i < N_ACTORS; i++) {
        stark_actor_def d;
        memset(&d, 0, sizeof d);
        d.struct_size = sizeof d;
        d.handle = handle;
        d.user_data = (void *)(intptr_t)i;
        OK(stark_spawn(rt, &d, NULL, &refs[i]));
    }
    names();
    name_released_with_actor();
    topics();
    timers();
    OK(stark_runtime_free(rt));
    CHECK(atomic_load(&bad_payload) == 0);
    t_end();
    return 0;
}
