/* Devices through the C ABI: backends, device memory, ops, a device buffer
 * sent to a native actor by reference, a swap that makes old buffers stale.
 * Usage: device [backend]   (default cpu). Exit 0 when every check held. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stark.h"

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fprintf(stderr, " (last error: %s)\n", stark_last_error()); failures++; } } while (0)
#define OK(call) do { stark_status st_ = (call); CHECK(st_ == STARK_OK, "%s returned %d", #call, st_); } while (0)

enum { N = 1000 };
static stark_runtime rt;
static volatile int actor_sum_ok = -1;

/* Takes the device buffer it is sent, checks its first and last floats. */
static stark_status reader(stark_ctx ctx, const stark_msg *m, void *ud) {
    (void)ud;
    stark_dbuf d;
    if (m->device_buffer == 0) return stark_ctx_reply(ctx, 1, "done", 4); /* the ask that follows */
    if (stark_ctx_take_device_buffer(ctx, &d) != STARK_OK) { actor_sum_ok = 0; return STARK_OK; }
    float first, last;
    int ok = stark_device_read(rt, d, 0, &first, 4) == STARK_OK &&
             stark_device_read(rt, d, 4 * (N - 1), &last, 4) == STARK_OK && first == 3.0f && last == 3.0f * N;
    ok = ok && stark_device_release(rt, d) == STARK_OK;
    actor_sum_ok = ok;
    return STARK_OK;
}

int main(int argc, char **argv) {
    const char *backend = argc > 1 ? argv[1] : "cpu";
    stark_config cfg;
    OK(stark_config_init(&cfg));
    cfg.device = backend;
    OK(stark_runtime_new(&cfg, &rt));

    stark_backend_info bi[8];
    size_t nb = 0;
    bi[0].struct_size = sizeof bi[0];
    OK(stark_device_backends(rt, bi, 8, &nb));
    int has_cpu = 0;
    for (size_t i = 0; i < nb; i++) has_cpu |= strcmp(bi[i].name, "cpu") == 0 && bi[i].score > 0;
    CHECK(has_cpu, "the cpu backend is not listed");

    char name[32];
    OK(stark_device_backend_name(rt, name, sizeof name));
    CHECK(strcmp(name, backend) == 0, "running %s, asked for %s", name, backend);
    uint32_t count = 0;
    OK(stark_device_count(rt, &count));
    CHECK(count >= 1, "no devices");
    stark_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    OK(stark_device_get_info(rt, 0, &info));
    printf("backend %s: device 0 is %s (type %u, %llu MiB)\n", name, info.name, info.type,
           (unsigned long long)(info.memory_total >> 20));
    CHECK(stark_device_get_info(rt, 999, &info) == STARK_NOT_FOUND, "device 999 exists");

    /* c = a + b; then a matmul against a reference. */
    float a[N], b[N], c[N];
    for (int i = 0; i < N; i++) { a[i] = (float)(i + 1); b[i] = 2.0f * (float)(i + 1); c[i] = NAN; }
    stark_dbuf da, db, dc;
    OK(stark_device_alloc(rt, 0, sizeof a, &da));
    OK(stark_device_alloc(rt, 0, sizeof b, &db));
    OK(stark_device_alloc(rt, 0, sizeof c, &dc));
    OK(stark_device_write(rt, da, 0, a, sizeof a));
    OK(stark_device_write(rt, db, 0, b, sizeof b));
    OK(stark_device_write(rt, dc, 0, c, sizeof c));
    stark_device_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = STARK_OP_ADD;
    op.dtype = STARK_DT_F32;
    op.a = da; op.b = db; op.c = dc; op.n = N;
    OK(stark_device_run(rt, &op));
    OK(stark_device_read(rt, dc, 0, c, sizeof c));
    for (int i = 0; i < N; i++) CHECK(c[i] == 3.0f * (float)(i + 1), "add: c[%d] = %g", i, c[i]);

    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {7, 8, 9, 10, 11, 12}, C[4] = {NAN, NAN, NAN, NAN};
    stark_dbuf dA, dB, dC;
    OK(stark_device_alloc(rt, 0, sizeof A, &dA));
    OK(stark_device_alloc(rt, 0, sizeof B, &dB));
    OK(stark_device_alloc(rt, 0, sizeof C, &dC));
    OK(stark_device_write(rt, dA, 0, A, sizeof A));
    OK(stark_device_write(rt, dB, 0, B, sizeof B));
    OK(stark_device_write(rt, dC, 0, C, sizeof C));
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = STARK_OP_MATMUL; /* C (2x2) = A (2x3) * B (3x2) */
    op.a = dA; op.b = dB; op.c = dC; op.m = 2; op.n = 2; op.k = 3; op.alpha = 1; op.beta = 0;
    OK(stark_device_run(rt, &op));
    OK(stark_device_read(rt, dC, 0, C, sizeof C));
    float want[4] = {58, 64, 139, 154};
    for (int i = 0; i < 4; i++) CHECK(C[i] == want[i], "matmul: C[%d] = %g, want %g", i, C[i], want[i]);

    /* Bad input: an unsupported dtype, a range past the buffer, stale handles. */
    op.dtype = 77;
    CHECK(stark_device_run(rt, &op) == STARK_UNSUPPORTED || stark_device_run(rt, &op) == STARK_INVALID, "dtype 77 accepted");
    op.dtype = STARK_DT_F32;
    op.m = 200;
    CHECK(stark_device_run(rt, &op) == STARK_INVALID, "a matmul past the buffers was accepted");
    CHECK(stark_device_write(rt, da, 4 * N - 2, a, 8) == STARK_INVALID, "write past the end accepted");
    CHECK(stark_device_read(rt, 0xdeadbeef, 0, a, 4) == STARK_NOT_FOUND, "forged handle accepted");
    CHECK(stark_device_alloc(rt, 0, 0, &dA) != STARK_OK, "zero-byte alloc accepted");

    /* A device buffer sent by reference to a native actor that takes it. */
    stark_actor_def def = {sizeof def, 0, reader, NULL, NULL, NULL, NULL};
    stark_ref ref;
    OK(stark_spawn(rt, &def, NULL, &ref));
    OK(stark_send_device_buffer(rt, ref, 7, dc));
    CHECK(stark_device_release(rt, dc) == STARK_NOT_FOUND, "the sent buffer is still the sender's");
    stark_reply r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    OK(stark_ask(rt, ref, 1, "?", 1, 2000000000, &r));
    stark_reply_free(&r);
    CHECK(actor_sum_ok == 1, "the actor did not read the device buffer it was sent (%d)", actor_sum_ok);

    /* Swap: a missing backend leaves the current one; a real swap makes
     * the old buffers stale. */
    CHECK(stark_device_select(rt, "no-such-backend") == STARK_NOT_FOUND, "a missing backend was selected");
    OK(stark_device_read(rt, da, 0, a, 4));
    OK(stark_device_select(rt, backend));
    CHECK(stark_device_read(rt, da, 0, a, 4) == STARK_NOT_FOUND, "a buffer of the swapped-out backend still reads");
    CHECK(stark_device_release(rt, da) == STARK_NOT_FOUND, "release of a swapped-out buffer");
    stark_dbuf fresh;
    OK(stark_device_alloc(rt, 0, 64, &fresh));
    OK(stark_device_release(rt, fresh));
    CHECK(stark_device_release(rt, fresh) == STARK_NOT_FOUND, "double release accepted");
    OK(stark_device_sync(rt, 0));

    OK(stark_runtime_free(rt));
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("device checks passed on %s\n", backend);
    return 0;
}
