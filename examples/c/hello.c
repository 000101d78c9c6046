/*
 * hello.c: the shortest real use of the STARK C ABI. Create a runtime,
 * spawn a native echo actor, ask it, print the reply, free everything.
 *
 *   cc hello.c $(pkg-config --cflags --libs stark) -o hello && ./hello
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stark.h>

/* The handler: answer every message with its own tag and bytes. */
static stark_status echo(stark_ctx ctx, const stark_msg *m, void *user_data) {
    (void)user_data;
    return stark_ctx_reply(ctx, m->tag, m->data, m->len);
}

/* Prints what failed and why (stark_last_error is per thread). */
static int failed(const char *what, stark_status st) {
    fprintf(stderr, "hello: %s: %s (%d): %s\n", what, stark_status_name(st), st, stark_last_error());
    return 1;
}

int main(void) {
    /* The library must implement the major version this file was built
     * against, and at least its minor. */
    uint32_t v = stark_abi_version();
    if (v >> 16 != STARK_ABI_VERSION_MAJOR || v < STARK_ABI_VERSION) {
        fprintf(stderr, "hello: libstark implements ABI %u.%u, built for %d.%d\n", v >> 16, v & 0xFFFF,
                STARK_ABI_VERSION_MAJOR, STARK_ABI_VERSION_MINOR);
        return 1;
    }

    stark_runtime rt;
    stark_status st = stark_runtime_new(NULL, &rt); /* NULL: the defaults */
    if (st != STARK_OK) return failed("stark_runtime_new", st);

    int rc = 1;
    stark_ref echo_ref;
    stark_actor_def def = {.struct_size = sizeof def, .handle = echo};
    st = stark_spawn(rt, &def, NULL, &echo_ref);
    if (st != STARK_OK) {
        failed("stark_spawn", st);
        goto out;
    }

    const char *hi = "hello, actor";
    stark_reply reply = {.struct_size = sizeof reply};
    st = stark_ask(rt, echo_ref, 1, hi, strlen(hi), 1000000000 /* 1 s */, &reply);
    if (st != STARK_OK) {
        failed("stark_ask", st);
        goto out;
    }
    printf("hello: asked \"%s\", the echo actor replied \"%.*s\" (tag %u)\n", hi, (int)reply.len,
           (const char *)reply.data, reply.tag);
    stark_reply_free(&reply);
    rc = 0;

out:
    /* Stops the actor (and every other), then releases the runtime. */
    st = stark_runtime_free(rt);
    if (st != STARK_OK) return failed("stark_runtime_free", st);
    return rc;
}
