/*
 * stark_device.h - the contract between STARK and a device backend plugin.
 *
 * A backend (CUDA, ROCm, Metal, Vulkan, ...) is a shared library that
 * exports two symbols:
 *
 *   uint32_t stark_device_score(void);
 *       How well this backend can run here: 0 = it cannot (driver missing,
 *       no device), higher is better. Cheap and free of lasting side effects
 *       (it may load the driver to count devices, it must not keep anything
 *       running). The host picks the highest score unless told otherwise.
 *       Guide: 10 a CPU or a software or emulated device (lavapipe),
 *       50 an integrated GPU, 100 a discrete GPU. The host's built-in cpu
 *       backend scores 10 and wins ties, so only a real GPU displaces it.
 *
 *   const stark_device_api *stark_device_query(uint32_t host_abi_version);
 *       The plugin's function table for a host speaking host_abi_version
 *       (STARK_DEVICE_ABI_VERSION of the host's header), or NULL when the
 *       plugin cannot serve that version. The table is static: it lives as
 *       long as the library, which the host never unloads.
 *
 * Rules every entry of the table follows:
 *   - It returns a status (STARK_DEV_*); the message of the calling
 *     thread's last failure is copied out by last_error.
 *   - Arguments are pointers to structs or a few scalars: no struct by
 *     value, no varargs, no callbacks (the host calls through purego).
 *   - Structs start with struct_size; append-only. A NULL entry in the
 *     table means "not supported" (the host reports STARK_DEV_UNSUPPORTED).
 *   - Device memory is named by opaque 64-bit handles (0 is never one) plus
 *     byte offsets; host memory by plain pointers, valid during the call
 *     (or until the stream is synchronised, for asynchronous copies).
 *   - stream 0 means synchronous: the call returns when the work is done.
 *     A non-zero stream (from stream_create) may return before; its work
 *     runs in order and stream_sync waits for it.
 *   - STARK_DEV_LOST is sticky: once a device is lost, every later call on
 *     it returns STARK_DEV_LOST.
 *   - Thread safety: every entry may be called from any thread at once,
 *     except init and shutdown, which the host calls alone.
 *   - Input structs smaller than this version's are refused
 *     (STARK_DEV_INVALID); output structs are written up to the caller's
 *     struct_size (which the plugin leaves as it was).
 *   - init without a usable driver fails (STARK_DEV_NOT_FOUND, with the
 *     reason in last_error) and never crashes; a second init, and shutdown
 *     without init, are no-ops.
 *   - After STARK_DEV_LOST, mem_free and the destroy calls still drop their
 *     handle (returning STARK_DEV_LOST) so the host can tidy up.
 *   - f32 views must be 4-byte aligned (offset % 4 == 0).
 */
#ifndef STARK_DEVICE_H
#define STARK_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STARK_DEVICE_ABI_VERSION 1

/* Statuses: the numbers of abi/stark.h, plus STARK_DEV_LOST. */
#define STARK_DEV_OK 0
#define STARK_DEV_INVALID 1      /* a bad argument: handle, offset, size, shape */
#define STARK_DEV_NOT_FOUND 2    /* no such device, buffer, stream, module or function */
#define STARK_DEV_TIMEOUT 3
#define STARK_DEV_EXHAUSTED 5    /* out of device memory (or another device limit) */
#define STARK_DEV_STOPPED 6      /* not initialised, or shut down */
#define STARK_DEV_UNSUPPORTED 7  /* this op, dtype or module format is not offered */
#define STARK_DEV_INTERNAL 8     /* a driver error; the message says which */
#define STARK_DEV_TOO_LARGE 10   /* over a device limit that splitting cannot avoid */
#define STARK_DEV_LOST 12        /* the device is gone (sticky) */

/* Capability flags (stark_device_api.caps). */
#define STARK_DEV_CAP_ASYNC (1ull << 0)       /* non-zero streams run asynchronously */
#define STARK_DEV_CAP_EVENTS (1ull << 1)      /* event_record / event_sync */
#define STARK_DEV_CAP_PINNED_HOST (1ull << 2) /* host_alloc gives page-locked memory */
#define STARK_DEV_CAP_UNIFIED (1ull << 3)     /* device memory is host-addressable */
#define STARK_DEV_CAP_F16 (1ull << 8)
#define STARK_DEV_CAP_BF16 (1ull << 9)
#define STARK_DEV_CAP_F64 (1ull << 10)
#define STARK_DEV_CAP_SPIRV (1ull << 16)      /* module formats for module_load */
#define STARK_DEV_CAP_PTX (1ull << 17)
#define STARK_DEV_CAP_HSACO (1ull << 18)
#define STARK_DEV_CAP_METALLIB (1ull << 19)
#define STARK_DEV_CAP_CUBIN (1ull << 20)

/* Device types. */
#define STARK_DEV_TYPE_OTHER 0
#define STARK_DEV_TYPE_CPU 1
#define STARK_DEV_TYPE_INTEGRATED 2
#define STARK_DEV_TYPE_DISCRETE 3
#define STARK_DEV_TYPE_VIRTUAL 4 /* software or emulated */

/* Data types. */
#define STARK_DT_F32 0
#define STARK_DT_F16 1
#define STARK_DT_BF16 2
#define STARK_DT_F64 3

/* Module formats. */
#define STARK_MOD_SPIRV 1
#define STARK_MOD_PTX 2
#define STARK_MOD_HSACO 3
#define STARK_MOD_METALLIB 4
#define STARK_MOD_CUBIN 5

typedef struct stark_dev_init {
    uint32_t struct_size;
    uint32_t flags;          /* reserved, 0 */
    const char *options;     /* backend-specific "key=value;..." or NULL */
} stark_dev_init;

typedef struct stark_dev_info {
    uint32_t struct_size;
    uint32_t type;           /* STARK_DEV_TYPE_* */
    char name[128];
    char vendor[64];
    uint64_t memory_total;   /* bytes */
    uint64_t memory_free;    /* bytes, best effort (0: unknown) */
    uint64_t max_alloc;      /* the largest single allocation */
    uint64_t max_binding;    /* the largest range one kernel binding can address (0: no limit) */
    uint32_t compute_units;
    uint32_t reserved;
} stark_dev_info;

/* A view of device memory. */
typedef struct stark_dev_buf {
    uint64_t handle;
    uint64_t offset;         /* bytes */
} stark_dev_buf;

#define STARK_COPY_H2D 0 /* host -> device: host_src to dst */
#define STARK_COPY_D2H 1 /* device -> host: src to host_dst */
#define STARK_COPY_D2D 2 /* device -> device: src to dst (same device) */

typedef struct stark_dev_copy {
    uint32_t struct_size;
    uint32_t kind;           /* STARK_COPY_* */
    uint32_t device;
    uint32_t reserved;
    uint64_t stream;         /* 0: synchronous */
    stark_dev_buf src, dst;  /* device side(s) */
    const void *host_src;    /* H2D */
    void *host_dst;          /* D2H */
    uint64_t bytes;
} stark_dev_copy;

/* The built-in ops. Shapes are in elements; every buffer is dense with the
 * given leading dimensions (row-major).
 *   FILL        c[i] = alpha                                   i < n
 *   COPY        c[i] = a[i]                                    i < n
 *   SCALE       c[i] = alpha * a[i]                            i < n
 *   AXPY        c[i] = alpha * a[i] + c[i]                     i < n
 *   ADD / MUL   c[i] = a[i] + b[i] / a[i] * b[i]               i < n
 *   RELU        c[i] = max(a[i], 0)                            i < n
 *   MATMUL      C = alpha * op(A) * op(B) + beta * C; C is m x n, op(A) m x k,
 *               op(B) k x n; op transposes when trans_a / trans_b is 1;
 *               lda, ldb, ldc are the row strides of A, B, C as stored
 *               (0: dense). beta 0 ignores C's old contents (NaN included).
 *   REDUCE_SUM  c[r] = sum over j < n of a[r * lda + j]        r < m (m 0: 1)
 *   REDUCE_MAX  c[r] = max over j < n of a[r * lda + j]
 *   SOFTMAX     c[r*ldc + j] = exp(a[r*lda + j] - max_r) / sum_r   (rows of n; m 0: 1)
 * Inputs and the output may not overlap, except exactly in place: c == a
 * for COPY/SCALE/RELU/ADD/MUL/AXPY, c == b for ADD/MUL. A device-to-device
 * copy's ranges may not overlap unless identical. Buffers larger than a binding's range
 * (max_binding) must still work: the plugin splits the work. */
#define STARK_OP_FILL 1
#define STARK_OP_COPY 2
#define STARK_OP_SCALE 3
#define STARK_OP_AXPY 4
#define STARK_OP_ADD 5
#define STARK_OP_MUL 6
#define STARK_OP_RELU 7
#define STARK_OP_MATMUL 8
#define STARK_OP_REDUCE_SUM 9
#define STARK_OP_REDUCE_MAX 10
#define STARK_OP_SOFTMAX 11

typedef struct stark_dev_op {
    uint32_t struct_size;
    uint32_t kind;           /* STARK_OP_* */
    uint32_t dtype;          /* STARK_DT_*; every backend supports F32 for every op */
    uint32_t device;
    uint64_t stream;         /* 0: synchronous */
    stark_dev_buf a, b, c;
    uint64_t m, n, k;
    uint64_t lda, ldb, ldc;
    uint32_t trans_a, trans_b;
    double alpha, beta;
} stark_dev_op;

/* A launch of a function from a loaded module. For SPIR-V the bindings are
 * storage buffers 0..n-1 of set 0 and push is the push-constant block; for
 * PTX, CUBIN and HSACO the kernel's parameters are one device pointer per
 * binding (base + offset), then the push bytes laid out as a C struct; for
 * a metallib, buffers 0..n-1 then the push bytes at index n. A zero in
 * grid/block y or z means 1; zero in x is STARK_DEV_INVALID. */
typedef struct stark_dev_launch {
    uint32_t struct_size;
    uint32_t device;
    uint64_t stream;
    uint64_t module;
    const char *function;     /* entry point name */
    uint32_t grid[3];         /* workgroups / blocks */
    uint32_t block[3];        /* threads per group (ignored where the module fixes it, e.g. SPIR-V) */
    const stark_dev_buf *bindings; /* buffers, in binding order */
    uint32_t n_bindings;
    uint32_t push_size;       /* bytes of push constants / kernel scalar arguments */
    const void *push;
} stark_dev_launch;

typedef struct stark_device_api {
    uint32_t struct_size;
    uint32_t abi_version;     /* STARK_DEVICE_ABI_VERSION the table implements */
    const char *name;         /* "cuda", "vulkan", ... */
    uint64_t caps;            /* STARK_DEV_CAP_* */

    int32_t (*init)(const stark_dev_init *opts);
    /* Finishes pending work, frees everything, joins the plugin's threads. */
    int32_t (*shutdown)(void);
    /* Copies the calling thread's last error message (NUL-terminated,
     * truncated to cap) into buf. */
    int32_t (*last_error)(char *buf, uint64_t cap);

    int32_t (*device_count)(uint32_t *out);
    int32_t (*device_info)(uint32_t device, stark_dev_info *out);

    int32_t (*mem_alloc)(uint32_t device, uint64_t bytes, uint64_t *out_handle);
    int32_t (*mem_free)(uint32_t device, uint64_t handle);
    int32_t (*memcpy)(const stark_dev_copy *copy);

    int32_t (*stream_create)(uint32_t device, uint64_t *out);
    int32_t (*stream_destroy)(uint32_t device, uint64_t stream);
    int32_t (*stream_sync)(uint32_t device, uint64_t stream);
    int32_t (*event_record)(uint32_t device, uint64_t stream, uint64_t *out_event);
    int32_t (*event_sync)(uint32_t device, uint64_t event);
    int32_t (*event_destroy)(uint32_t device, uint64_t event);
    /* Waits for everything queued on the device. */
    int32_t (*synchronize)(uint32_t device);

    /* STARK_DEV_OK when launch_op would accept op (kind, dtype, shape). */
    int32_t (*op_supported)(const stark_dev_op *op);
    int32_t (*launch_op)(const stark_dev_op *op);

    int32_t (*module_load)(uint32_t device, uint32_t format, const void *bytes, uint64_t len, uint64_t *out_module);
    int32_t (*module_unload)(uint32_t device, uint64_t module);
    int32_t (*module_launch)(const stark_dev_launch *launch);
} stark_device_api;

typedef uint32_t (*stark_device_score_fn)(void);
typedef const stark_device_api *(*stark_device_query_fn)(uint32_t host_abi_version);

/* What a plugin exports. */
uint32_t stark_device_score(void);
const stark_device_api *stark_device_query(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* STARK_DEVICE_H */
