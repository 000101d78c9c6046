/*
 * vk.h - shared declarations of the Vulkan device backend (libstark_vulkan.so).
 *
 * The plugin implements abi/stark_device.h on any Vulkan 1.0+ device with a
 * compute queue (Mesa's lavapipe in CI). libvulkan.so.1 is opened at run
 * time with dlopen, so the plugin loads, and scores 0, where no Vulkan
 * loader is installed; <vulkan/vulkan.h> is used for its types only.
 *
 * Files: vk_init.c (loader, init/shutdown, devices, errors, streams and
 * events), vk_mem.c (buffers and copies), vk_exec.c (pipelines, submission
 * contexts, recording), vk_ops.c (the built-in ops, split past the binding
 * range), vk_module.c (SPIR-V modules).
 */
#ifndef STARK_VK_H
#define STARK_VK_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "stark_device.h"

#define VK_EXPORT __attribute__((visibility("default")))

/* Loader-level and instance-level entry points. */
#define VK_INSTANCE_FNS(X)                         \
    X(vkDestroyInstance)                           \
    X(vkEnumeratePhysicalDevices)                  \
    X(vkGetPhysicalDeviceProperties)               \
    X(vkGetPhysicalDeviceQueueFamilyProperties)    \
    X(vkGetPhysicalDeviceMemoryProperties)         \
    X(vkEnumerateDeviceExtensionProperties)        \
    X(vkCreateDevice)                              \
    X(vkGetDeviceProcAddr)

/* Device-level entry points, loaded per device with vkGetDeviceProcAddr. */
#define VK_DEVICE_FNS(X)               \
    X(vkDestroyDevice)                 \
    X(vkGetDeviceQueue)                \
    X(vkDeviceWaitIdle)                \
    X(vkQueueSubmit)                   \
    X(vkCreateBuffer)                  \
    X(vkDestroyBuffer)                 \
    X(vkGetBufferMemoryRequirements)   \
    X(vkAllocateMemory)                \
    X(vkFreeMemory)                    \
    X(vkBindBufferMemory)              \
    X(vkMapMemory)                     \
    X(vkCreateCommandPool)             \
    X(vkDestroyCommandPool)            \
    X(vkResetCommandPool)              \
    X(vkAllocateCommandBuffers)        \
    X(vkBeginCommandBuffer)            \
    X(vkEndCommandBuffer)              \
    X(vkCreateFence)                   \
    X(vkDestroyFence)                  \
    X(vkWaitForFences)                 \
    X(vkGetFenceStatus)                \
    X(vkResetFences)                   \
    X(vkCreateShaderModule)            \
    X(vkDestroyShaderModule)           \
    X(vkCreateDescriptorSetLayout)     \
    X(vkDestroyDescriptorSetLayout)    \
    X(vkCreatePipelineLayout)          \
    X(vkDestroyPipelineLayout)         \
    X(vkCreateComputePipelines)        \
    X(vkDestroyPipeline)               \
    X(vkCreateDescriptorPool)          \
    X(vkDestroyDescriptorPool)         \
    X(vkResetDescriptorPool)           \
    X(vkAllocateDescriptorSets)        \
    X(vkUpdateDescriptorSets)          \
    X(vkCmdBindPipeline)               \
    X(vkCmdBindDescriptorSets)         \
    X(vkCmdPushConstants)              \
    X(vkCmdDispatch)                   \
    X(vkCmdPipelineBarrier)            \
    X(vkCmdCopyBuffer)

typedef struct vk_dfn {
#define VK_X(n) PFN_##n n;
    VK_DEVICE_FNS(VK_X)
#undef VK_X
    PFN_vkCmdPushDescriptorSetKHR vkCmdPushDescriptorSetKHR; /* NULL without VK_KHR_push_descriptor */
} vk_dfn;

/* A device buffer (mem_alloc) or an internal one (scratch, staging). Table
 * entries are reference counted: the table holds one reference, every op
 * using the buffer another, so mem_free never pulls memory from under a
 * running op (the last reference destroys it). */
typedef struct vk_buf {
    _Atomic uint32_t refs;  /* first in every table object */
    VkBuffer buf;
    VkDeviceMemory mem;
    uint64_t size;          /* bytes asked for */
    uint8_t *map;           /* persistent mapping (host-visible, coherent), or NULL */
} vk_buf;

/* A loaded SPIR-V module and its pipelines, one per (entry point, binding count). */
typedef struct vk_pipe_entry {
    struct vk_pipe_entry *next;
    char *name;
    uint32_t n_bindings;
    VkPipeline pipe;
} vk_pipe_entry;

typedef struct vk_module {
    _Atomic uint32_t refs;   /* first in every table object */
    VkShaderModule mod;
    char **entries;          /* GLCompute entry point names */
    uint32_t n_entries;
    uint32_t min_bindings;   /* 1 + the highest binding the module declares (set 0) */
    pthread_mutex_t lock;    /* guards pipes */
    vk_pipe_entry *pipes;
} vk_module;

/* A handle table of reference-counted objects. Handles are
 * (generation << 32) | (slot + 1): 0 is never one, stale handles miss. */
typedef struct vk_table {
    pthread_rwlock_t lock;
    void **obj;
    uint32_t *gen;
    uint32_t cap, used;      /* slots, slots ever handed out */
    uint32_t *free_slots;
    uint32_t n_free;
} vk_table;

/* A submission context: a command buffer with its pool and fence, reused
 * from a per-device free list (one per concurrent submitter). */
typedef struct vk_ctx {
    struct vk_ctx *next_free;
    struct vk_ctx *next_all;
    VkCommandPool pool;
    VkCommandBuffer cb;
    VkFence fence;
    VkDescriptorPool dpool;  /* descriptor sets without push descriptors */
    uint32_t dsets_used;
    uint32_t dispatches;     /* recorded since the last submit */
    int recording;
    VkPipeline last_pipe;    /* bound in the command buffer being recorded */
    vk_buf scratch;          /* device memory for partial results (rows ops) */
    vk_buf staging;          /* host-visible bounce buffer (non-mapped memory) */
} vk_ctx;

/* Built-in pipelines, specialised: rows.comp has one per mode
 * (PIPE_ROWS + mode), elem.comp one per op and access width (PIPE_ELEM_OF). */
#define ROWS_MODES 5
enum { PIPE_MATMUL, PIPE_MATMUL_REG, PIPE_ROWS, PIPE_ELEM = PIPE_ROWS + ROWS_MODES, PIPE_COUNT = PIPE_ELEM + 2 * STARK_OP_RELU };
#define PIPE_ELEM_OF(op, vec) (PIPE_ELEM + 2 * ((int)(op) - 1) + ((vec) ? 1 : 0))

#define VK_MAX_BINDINGS 32
#define VK_PUSH_BYTES 128   /* the push range of every layout (the guaranteed minimum) */
#define VK_DSET_POOL 64     /* descriptor sets per context pool (fallback path) */
#define VK_STAGING_BYTES (16u << 20)

/* Live ids (streams, events): a small unsorted set. */
typedef struct vk_ids {
    pthread_mutex_t lock;
    uint64_t *ids;
    uint32_t n, cap;
    uint64_t next;
} vk_ids;

typedef struct vk_dev {
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfam;
    pthread_mutex_t qlock;   /* queues need external synchronisation */
    vk_dfn fn;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memprops;
    stark_dev_info info;
    uint32_t rank;           /* score of this device: 100 / 50 / 10 */

    uint64_t max_range;      /* maxStorageBufferRange, bytes */
    uint64_t align;          /* minStorageBufferOffsetAlignment (a power of two, >= 4) */
    uint64_t bind_align;     /* internal bindings: align, at least 16 (vec4 access) */
    uint64_t range_elems;    /* f32 elements any aligned-down binding can hold */
    uint64_t max_alloc;
    uint32_t max_groups[3];
    uint32_t push_max;       /* push bytes a launch may give */
    int push_desc;           /* VK_KHR_push_descriptor in use */
    int cpu;                 /* a CPU implementation (lavapipe): the register-blocked matmul */
    int mapped;              /* buffers are host-visible + coherent and mapped */
    uint32_t mem_type;       /* memory type of device buffers */
    uint32_t mem_type_alt;   /* second choice (UINT32_MAX: none) */
    uint32_t staging_type;   /* host-visible coherent type for staging (UINT32_MAX: none) */
    _Atomic int lost;

    vk_table bufs;
    vk_table mods;

    pthread_mutex_t plock;   /* creation of layouts and pipelines */
    VkDescriptorSetLayout dsl[VK_MAX_BINDINGS + 1];
    VkPipelineLayout layout[VK_MAX_BINDINGS + 1];
    VkPipeline builtin[PIPE_COUNT];
    _Atomic int builtin_ready[PIPE_COUNT];
    _Atomic int layout_ready[VK_MAX_BINDINGS + 1];

    pthread_mutex_t clock;   /* contexts */
    vk_ctx *free_ctx;
    vk_ctx *all_ctx;

    vk_ids streams, events;
} vk_dev;

typedef struct vk_global {
    void *lib;
    PFN_vkGetInstanceProcAddr gipa;
#define VK_X(n) PFN_##n n;
    VK_INSTANCE_FNS(VK_X)
#undef VK_X
    VkInstance inst;
    vk_dev *devs;
    uint32_t ndev;
    _Atomic int ready;
    /* init options */
    int opt_push_desc;       /* push_descriptors=0 disables the extension */
    int opt_mapped;          /* mapped=0: staging copies even on host-visible memory */
    int opt_cpu_kernels;     /* cpu_kernels=0: the GPU kernels on CPU devices too */
} vk_global;

extern vk_global G;

/* A binding: a buffer sub-range. */
typedef struct vk_bind {
    VkBuffer buf;
    VkDeviceSize offset, range;
} vk_bind;

/* vk_init.c */
int vk_err(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vk_fail(vk_dev *d, VkResult r, const char *what);
const char *vk_result_name(VkResult r);
int vk_get_dev(uint32_t device, vk_dev **out);
int vk_check_stream(vk_dev *d, uint64_t stream);

/* vk_mem.c */
int vk_table_init(vk_table *t);
void vk_table_destroy(vk_table *t);
int vk_table_put(vk_table *t, void *obj, uint64_t *out_handle);
void *vk_table_get(vk_table *t, uint64_t handle);   /* takes a reference */
void *vk_table_take(vk_table *t, uint64_t handle);  /* removes, returns the table's reference */
int vk_buf_create(vk_dev *d, uint64_t bytes, uint32_t type, int map, VkBufferUsageFlags usage, vk_buf *out);
void vk_buf_destroy(vk_dev *d, vk_buf *b);
void vk_buf_unref(vk_dev *d, vk_buf *b);
/* Resolves a view of bytes at v (offset a multiple of 4 when f32). */
int vk_view(vk_dev *d, const stark_dev_buf *v, uint64_t bytes, int f32, vk_buf **out, const char *what);
int32_t vk_mem_alloc(uint32_t device, uint64_t bytes, uint64_t *out_handle);
int32_t vk_mem_free(uint32_t device, uint64_t handle);
int32_t vk_memcpy(const stark_dev_copy *copy);

/* vk_exec.c */
int vk_layout(vk_dev *d, uint32_t n_bindings, VkPipelineLayout *out);
int vk_pipeline(vk_dev *d, int which, VkPipeline *out);
int vk_make_pipeline(vk_dev *d, VkShaderModule mod, const char *entry, uint32_t n_bindings,
                     const VkSpecializationInfo *spec, VkPipeline *out);
int vk_ctx_get(vk_dev *d, vk_ctx **out);
void vk_ctx_put(vk_dev *d, vk_ctx *c);
void vk_ctx_destroy(vk_dev *d, vk_ctx *c);
int vk_ctx_scratch(vk_dev *d, vk_ctx *c, uint64_t bytes);
int vk_ctx_staging(vk_dev *d, vk_ctx *c);
int vk_rec_begin(vk_dev *d, vk_ctx *c);
int vk_rec_dispatch(vk_dev *d, vk_ctx *c, VkPipeline pipe, uint32_t n_bindings, const vk_bind *binds,
                    const void *push, uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz);
void vk_rec_barrier(vk_dev *d, vk_ctx *c);
int vk_rec_copy(vk_dev *d, vk_ctx *c, VkBuffer src, uint64_t src_off, VkBuffer dst, uint64_t dst_off, uint64_t bytes);
/* Ends, submits and waits; the context may record again after vk_rec_begin. */
int vk_rec_submit(vk_dev *d, vk_ctx *c);
void vk_rec_abort(vk_dev *d, vk_ctx *c);
/* A binding of bytes at byte offset off of b: bound at the offset aligned
 * down, the remainder returned in elements (f32). */
void vk_bind_at(const vk_dev *d, const vk_buf *b, uint64_t off, uint64_t bytes, vk_bind *out, uint32_t *elem_off);

/* vk_ops.c */
int32_t vk_op_supported(const stark_dev_op *op);
int32_t vk_launch_op(const stark_dev_op *op);

/* vk_module.c */
int32_t vk_module_load(uint32_t device, uint32_t format, const void *bytes, uint64_t len, uint64_t *out_module);
int32_t vk_module_unload(uint32_t device, uint64_t module);
int32_t vk_module_launch(const stark_dev_launch *launch);
void vk_module_destroy(vk_dev *d, vk_module *m);
void vk_module_unref(vk_dev *d, vk_module *m);

#endif /* STARK_VK_H */
