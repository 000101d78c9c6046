/*
 * test_nodriver.c - the GPU plugins on a machine without their driver:
 *
 *   test_nodriver PLUGIN.so NAME DRIVER_LIB [PLUGIN.so NAME DRIVER_LIB ...]
 *
 * For each plugin: it loads with dlopen and exports the two entry points;
 * stark_device_query(STARK_DEVICE_ABI_VERSION) returns a table with that
 * abi_version, the plugin's name and sizeof(stark_device_api); query(999)
 * and query(0) return NULL; every entry the plugin implements (all of them
 * for cuda and rocm) is non-NULL. Then, when DRIVER_LIB (libcuda.so.1,
 * libamdhip64.so) cannot be loaded here: the score is 0, init fails with a
 * status (not a crash) and last_error says why, every other entry answers
 * STARK_DEV_STOPPED, and shutdown is harmless. Where the driver is present
 * those no-driver checks are skipped, saying so.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../abi/stark_device.h"

static int failures;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            failures++;                                                                                                \
            fprintf(stderr, "FAIL %s: ", name);                                                                        \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fprintf(stderr, "\n");                                                                                     \
        }                                                                                                              \
    } while (0)

static void test(const char *path, const char *name, const char *driver) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(lib != NULL, "dlopen %s: %s", path, dlerror());
    if (lib == NULL)
        return;
    stark_device_score_fn score = (stark_device_score_fn)dlsym(lib, "stark_device_score");
    stark_device_query_fn query = (stark_device_query_fn)dlsym(lib, "stark_device_query");
    CHECK(score != NULL && query != NULL, "%s does not export stark_device_score and stark_device_query", path);
    if (score == NULL || query == NULL)
        return;
    CHECK(query(999) == NULL, "query(999) is not NULL");
    CHECK(query(0) == NULL, "query(0) is not NULL");
    const stark_device_api *api = query(STARK_DEVICE_ABI_VERSION);
    CHECK(api != NULL, "query(%d) is NULL", STARK_DEVICE_ABI_VERSION);
    if (api == NULL)
        return;
    CHECK(api == query(STARK_DEVICE_ABI_VERSION), "the table is not static");
    CHECK(api->abi_version == STARK_DEVICE_ABI_VERSION, "abi_version %u, want %d", api->abi_version,
          STARK_DEVICE_ABI_VERSION);
    CHECK(api->struct_size == sizeof(stark_device_api), "struct_size %u, want %zu", api->struct_size,
          sizeof(stark_device_api));
    CHECK(api->name != NULL && strcmp(api->name, name) == 0, "name \"%s\", want \"%s\"", api->name ? api->name : "(null)",
          name);
    CHECK((api->caps & (STARK_DEV_CAP_F16 | STARK_DEV_CAP_BF16 | STARK_DEV_CAP_F64)) == 0,
          "caps %#llx claim a dtype the built-in ops do not compute", (unsigned long long)api->caps);
    const struct {
        const char *what;
        const void *fn;
    } entries[] = {
        {"init", (const void *)api->init},
        {"shutdown", (const void *)api->shutdown},
        {"last_error", (const void *)api->last_error},
        {"device_count", (const void *)api->device_count},
        {"device_info", (const void *)api->device_info},
        {"mem_alloc", (const void *)api->mem_alloc},
        {"mem_free", (const void *)api->mem_free},
        {"memcpy", (const void *)api->memcpy},
        {"stream_create", (const void *)api->stream_create},
        {"stream_destroy", (const void *)api->stream_destroy},
        {"stream_sync", (const void *)api->stream_sync},
        {"event_record", (const void *)api->event_record},
        {"event_sync", (const void *)api->event_sync},
        {"event_destroy", (const void *)api->event_destroy},
        {"synchronize", (const void *)api->synchronize},
        {"op_supported", (const void *)api->op_supported},
        {"launch_op", (const void *)api->launch_op},
        {"module_load", (const void *)api->module_load},
        {"module_unload", (const void *)api->module_unload},
        {"module_launch", (const void *)api->module_launch},
    };
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        CHECK(entries[i].fn != NULL, "table entry %s is NULL", entries[i].what);
    if (failures)
        return;

    void *drv = dlopen(driver, RTLD_NOW | RTLD_LOCAL);
    if (drv != NULL) {
        printf("%s: %s is present here: table checked, no-driver checks skipped (score %u)\n", name, driver, score());
        return;
    }
    uint32_t s = score();
    CHECK(s == 0, "score %u without %s, want 0", s, driver);
    CHECK(score() == 0, "a second score() is not 0");
    char err[1024] = "";
    uint32_t n = 7;
    CHECK(api->device_count(&n) == STARK_DEV_STOPPED, "device_count before init is not STOPPED");
    stark_dev_init in = {.struct_size = sizeof in, .options = NULL};
    int32_t st = api->init(&in);
    CHECK(st != STARK_DEV_OK, "init succeeded without a driver");
    CHECK(api->last_error(err, sizeof err) == STARK_DEV_OK, "last_error failed");
    CHECK(strstr(err, driver) != NULL, "last_error after init does not name %s: \"%s\"", driver, err);
    printf("%s: score 0; init -> status %d: %s\n", name, st, err);
    st = api->init(NULL);
    CHECK(st != STARK_DEV_OK, "init(NULL) succeeded without a driver");
    stark_dev_init bad = {.struct_size = sizeof bad, .options = "no_such_option=1"};
    st = api->init(&bad);
    CHECK(st == STARK_DEV_INVALID, "init with an unknown option: status %d, want INVALID", st);
    /* everything else: STOPPED, with a message, no crash */
    uint64_t h = 0;
    stark_dev_info info = {.struct_size = sizeof info};
    stark_dev_copy c = {.struct_size = sizeof c, .kind = STARK_COPY_H2D, .host_src = &h, .bytes = 8};
    stark_dev_op op = {.struct_size = sizeof op, .kind = STARK_OP_FILL, .n = 1};
    stark_dev_launch l = {.struct_size = sizeof l, .function = "f", .grid = {1}, .block = {1}};
    const char ptx[] = ".version 6.0\n";
    int32_t got[] = {
        api->device_count(&n),
        api->device_info(0, &info),
        api->mem_alloc(0, 64, &h),
        api->mem_free(0, 1),
        api->memcpy(&c),
        api->stream_create(0, &h),
        api->stream_destroy(0, 1),
        api->stream_sync(0, 0),
        api->event_record(0, 0, &h),
        api->event_sync(0, 1),
        api->event_destroy(0, 1),
        api->synchronize(0),
        api->op_supported(&op),
        api->launch_op(&op),
        api->module_load(0, STARK_MOD_PTX, ptx, sizeof ptx, &h),
        api->module_unload(0, 1),
        api->module_launch(&l),
    };
    for (size_t i = 0; i < sizeof got / sizeof got[0]; i++) {
        CHECK(got[i] == STARK_DEV_STOPPED, "call %zu before init: status %d, want STOPPED (%d)", i, got[i],
              STARK_DEV_STOPPED);
    }
    err[0] = 0;
    api->last_error(err, sizeof err);
    CHECK(err[0] != 0, "no last_error after a STOPPED call");
    CHECK(api->shutdown() == STARK_DEV_OK, "shutdown without init failed");
    CHECK(api->last_error(NULL, 0) == STARK_DEV_INVALID, "last_error(NULL, 0) is not INVALID");
    char one[1] = {'x'};
    CHECK(api->last_error(one, 1) == STARK_DEV_OK && one[0] == 0, "last_error into 1 byte is not \"\"");
}

int main(int argc, char **argv) {
    if (argc < 4 || (argc - 1) % 3 != 0) {
        fprintf(stderr, "usage: %s PLUGIN.so NAME DRIVER_LIB [...]\n", argv[0]);
        return 2;
    }
    for (int i = 1; i + 2 < argc; i += 3) {
        int before = failures;
        test(argv[i], argv[i + 1], argv[i + 2]);
        printf("%s %s (%s)\n", failures == before ? "ok  " : "FAIL", argv[i + 1], argv[i]);
    }
    return failures ? 1 : 0;
}
