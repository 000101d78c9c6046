/* A native handler that crashes (a NULL write): the process dies, and the
 * crash report must name the C function, thanks to cgosymbolizer. */
#include <stdio.h>
#include "stark.h"

__attribute__((noinline)) static void stark_test_write_null(volatile int *p) { *p = 42; }

__attribute__((noinline)) static stark_status stark_test_crashing_handler(stark_ctx ctx, const stark_msg *m,
                                                                         void *ud) {
    (void)ctx; (void)m; (void)ud;
    stark_test_write_null((volatile int *)0);
    return STARK_OK;
}

int main(void) {
    stark_runtime rt;
    stark_ref ref;
    stark_actor_def def = {sizeof def, 0, stark_test_crashing_handler, NULL, NULL, NULL, NULL};
    stark_reply r = {sizeof r, 0, 0, NULL, 0, 0};
    if (stark_runtime_new(NULL, &rt) != STARK_OK || stark_spawn(rt, &def, NULL, &ref) != STARK_OK) {
        fprintf(stderr, "setup failed: %s\n", stark_last_error());
        return 2;
    }
    stark_ask(rt, ref, 1, "x", 1, 1000000000, &r);
    fprintf(stderr, "still alive: the crash did not happen\n");
    return 3;
}
