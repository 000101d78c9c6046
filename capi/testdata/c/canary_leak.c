/*
 * canary_leak: a program that must FAIL the memory checkers. It leaks
 * what the library hands to C: the bytes of a reply it never passes to
 * stark_reply_free. capi/ctest.mk runs it under LeakSanitizer (and
 * valgrind) and expects the leak to be reported, with the allocation in
 * libstark; if a checker stops reporting it (a suppression grown too
 * wide, leak detection switched off), make test-c fails.
 */
#include "t.h"

static stark_status echo(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ud;
    return stark_ctx_reply(ctx, m->tag, m->data, m->len);
}

int main(void) {
    t_begin("canary_leak");
    stark_runtime rt;
    stark_ref ref;
    stark_actor_def d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.handle = echo;
    OK(stark_runtime_new(NULL, &rt));
    OK(stark_spawn(rt, &d, NULL, &ref));
    stark_reply r = t_reply();
    OK(stark_ask(rt, ref, 1, "leaked reply", 12, 2 * T_SEC, &r));
    CHECK(r.len == 12);
    r.data = NULL; /* the only pointer to the reply's bytes is gone: a leak */
    OK(stark_runtime_free(rt));
    t_end();
    return 0;
}
