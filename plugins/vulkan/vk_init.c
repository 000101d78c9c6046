/*
 * vk_init.c - the loader (dlopen of libvulkan.so.1), score, the function
 * table, init/shutdown, devices, error messages, streams and events.
 *
 * Streams are synchronous: every call returns when its work is done, so a
 * stream is an id that orders nothing (STARK_DEV_CAP_ASYNC is not claimed)
 * and an event is complete when recorded.
 */
#include "vk.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

vk_global G;

static __thread char tls_err[512];
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t init_count; /* init calls not yet matched by shutdown */

int vk_err(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_err, sizeof tls_err, fmt, ap);
    va_end(ap);
    return status;
}

const char *vk_result_name(VkResult r) {
    switch (r) {
#define N(x) case x: return #x;
        N(VK_SUCCESS) N(VK_NOT_READY) N(VK_TIMEOUT) N(VK_INCOMPLETE)
        N(VK_ERROR_OUT_OF_HOST_MEMORY) N(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        N(VK_ERROR_INITIALIZATION_FAILED) N(VK_ERROR_DEVICE_LOST) N(VK_ERROR_MEMORY_MAP_FAILED)
        N(VK_ERROR_LAYER_NOT_PRESENT) N(VK_ERROR_EXTENSION_NOT_PRESENT) N(VK_ERROR_FEATURE_NOT_PRESENT)
        N(VK_ERROR_INCOMPATIBLE_DRIVER) N(VK_ERROR_TOO_MANY_OBJECTS) N(VK_ERROR_FORMAT_NOT_SUPPORTED)
        N(VK_ERROR_FRAGMENTED_POOL) N(VK_ERROR_UNKNOWN) N(VK_ERROR_OUT_OF_POOL_MEMORY)
        N(VK_ERROR_INVALID_EXTERNAL_HANDLE) N(VK_ERROR_FRAGMENTATION)
        N(VK_ERROR_INVALID_SHADER_NV)
#undef N
    default: return "VkResult(?)";
    }
}

/* Maps a failed VkResult to a status; device loss is sticky. */
int vk_fail(vk_dev *d, VkResult r, const char *what) {
    switch (r) {
    case VK_ERROR_DEVICE_LOST:
        if (d) atomic_store(&d->lost, 1);
        return vk_err(STARK_DEV_LOST, "%s: VK_ERROR_DEVICE_LOST (the device is gone; every later call on it fails)", what);
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
    case VK_ERROR_TOO_MANY_OBJECTS:
    case VK_ERROR_FRAGMENTATION:
        return vk_err(STARK_DEV_EXHAUSTED, "%s: %s", what, vk_result_name(r));
    default:
        return vk_err(STARK_DEV_INTERNAL, "%s: %s (%d)", what, vk_result_name(r), (int)r);
    }
}

int vk_get_dev(uint32_t device, vk_dev **out) {
    if (!atomic_load_explicit(&G.ready, memory_order_acquire))
        return vk_err(STARK_DEV_STOPPED, "the vulkan backend is not initialised (or was shut down)");
    if (device >= G.ndev) return vk_err(STARK_DEV_NOT_FOUND, "device %u (the vulkan backend has %u)", device, G.ndev);
    vk_dev *d = &G.devs[device];
    if (atomic_load_explicit(&d->lost, memory_order_relaxed))
        return vk_err(STARK_DEV_LOST, "device %u was lost", device);
    *out = d;
    return STARK_DEV_OK;
}

/* ---- the loader ---- */

static pthread_once_t loader_once = PTHREAD_ONCE_INIT;

static void load_loader(void) {
    static const char *names[] = {"libvulkan.so.1", "libvulkan.so"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!lib) continue;
        PFN_vkGetInstanceProcAddr gipa = (PFN_vkGetInstanceProcAddr)dlsym(lib, "vkGetInstanceProcAddr");
        if (gipa) {
            G.lib = lib; /* never closed: drivers keep state in it */
            G.gipa = gipa;
            return;
        }
        dlclose(lib);
    }
}

static int has_ext(const VkExtensionProperties *e, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(e[i].extensionName, name) == 0) return 1;
    return 0;
}

/* Creates an instance without layers (portability enumeration when offered). */
static VkResult create_instance(VkInstance *out, uint32_t *api) {
    PFN_vkCreateInstance create = (PFN_vkCreateInstance)G.gipa(NULL, "vkCreateInstance");
    PFN_vkEnumerateInstanceVersion version = (PFN_vkEnumerateInstanceVersion)G.gipa(NULL, "vkEnumerateInstanceVersion");
    PFN_vkEnumerateInstanceExtensionProperties exts =
        (PFN_vkEnumerateInstanceExtensionProperties)G.gipa(NULL, "vkEnumerateInstanceExtensionProperties");
    if (!create) return VK_ERROR_INITIALIZATION_FAILED;
    uint32_t v = VK_API_VERSION_1_0;
    if (version && version(&v) != VK_SUCCESS) v = VK_API_VERSION_1_0;
    if (v > VK_API_VERSION_1_3) v = VK_API_VERSION_1_3;
    *api = v;
    const char *enable[1];
    uint32_t n_enable = 0;
    VkInstanceCreateFlags flags = 0;
    uint32_t n = 0;
    if (exts && exts(NULL, &n, NULL) == VK_SUCCESS && n > 0) {
        VkExtensionProperties *e = calloc(n, sizeof *e);
        if (e && exts(NULL, &n, e) == VK_SUCCESS && has_ext(e, n, "VK_KHR_portability_enumeration")) {
            enable[n_enable++] = "VK_KHR_portability_enumeration";
            flags |= 0x00000001; /* VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR */
        }
        free(e);
    }
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "stark",
                             .pEngineName = "stark", .apiVersion = v};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .flags = flags,
                               .pApplicationInfo = &app, .enabledExtensionCount = n_enable,
                               .ppEnabledExtensionNames = n_enable ? enable : NULL};
    return create(&ci, NULL, out);
}

static uint32_t type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 100;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 50;
    default: return 10; /* CPU (lavapipe, SwiftShader), virtual, other */
    }
}

/* The compute queue family of p (one without graphics preferred), or UINT32_MAX. */
static uint32_t compute_family(PFN_vkGetPhysicalDeviceQueueFamilyProperties qf, VkPhysicalDevice p) {
    uint32_t n = 0, best = UINT32_MAX;
    qf(p, &n, NULL);
    if (n == 0) return best;
    VkQueueFamilyProperties *f = calloc(n, sizeof *f);
    if (!f) return best;
    qf(p, &n, f);
    for (uint32_t i = 0; i < n; i++) {
        if (!(f[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || f[i].queueCount == 0) continue;
        if (best == UINT32_MAX || !(f[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) best = i;
        if (!(f[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) break;
    }
    free(f);
    return best;
}

VK_EXPORT uint32_t stark_device_score(void) {
    pthread_once(&loader_once, load_loader);
    if (!G.gipa) return 0;
    VkInstance inst;
    uint32_t api;
    if (create_instance(&inst, &api) != VK_SUCCESS) return 0;
    PFN_vkDestroyInstance destroy = (PFN_vkDestroyInstance)G.gipa(inst, "vkDestroyInstance");
    PFN_vkEnumeratePhysicalDevices enumerate = (PFN_vkEnumeratePhysicalDevices)G.gipa(inst, "vkEnumeratePhysicalDevices");
    PFN_vkGetPhysicalDeviceProperties props = (PFN_vkGetPhysicalDeviceProperties)G.gipa(inst, "vkGetPhysicalDeviceProperties");
    PFN_vkGetPhysicalDeviceQueueFamilyProperties qf =
        (PFN_vkGetPhysicalDeviceQueueFamilyProperties)G.gipa(inst, "vkGetPhysicalDeviceQueueFamilyProperties");
    uint32_t score = 0, n = 0;
    if (destroy && enumerate && props && qf && enumerate(inst, &n, NULL) == VK_SUCCESS && n > 0) {
        VkPhysicalDevice *p = calloc(n, sizeof *p);
        if (p && enumerate(inst, &n, p) >= 0) {
            for (uint32_t i = 0; i < n; i++) {
                if (compute_family(qf, p[i]) == UINT32_MAX) continue;
                VkPhysicalDeviceProperties pr;
                props(p[i], &pr);
                uint32_t r = type_rank(pr.deviceType);
                if (r > score) score = r;
            }
        }
        free(p);
    }
    if (destroy) destroy(inst, NULL);
    return score;
}

/* ---- devices ---- */

static const char *vendor_name(uint32_t id) {
    switch (id) {
    case 0x1002: return "AMD";
    case 0x1010: return "Imagination";
    case 0x10DE: return "NVIDIA";
    case 0x13B5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x8086: return "Intel";
    case 0x106B: return "Apple";
    case 0x1AE0: return "Google";
    case 0x14E4: return "Broadcom";
    case 0x10002: return "Vivante";
    case 0x10003: return "VeriSilicon";
    case 0x10004: return "Kazan";
    case 0x10005: return "Mesa";
    case 0x10006: return "PoCL";
    default: return NULL;
    }
}

static uint32_t dev_type(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return STARK_DEV_TYPE_DISCRETE;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return STARK_DEV_TYPE_INTEGRATED;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: /* a software rasteriser: lavapipe, SwiftShader */
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return STARK_DEV_TYPE_VIRTUAL;
    default: return STARK_DEV_TYPE_OTHER;
    }
}

/* A memory type in bits with all of want, preferring heap (UINT32_MAX: any). */
static uint32_t find_type(const VkPhysicalDeviceMemoryProperties *mp, uint32_t bits, VkMemoryPropertyFlags want, uint32_t heap) {
    uint32_t any = UINT32_MAX;
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
        if (!(bits & (1u << i)) || (mp->memoryTypes[i].propertyFlags & want) != want) continue;
        if (heap == UINT32_MAX || mp->memoryTypes[i].heapIndex == heap) return i;
        if (any == UINT32_MAX) any = i;
    }
    return any;
}

static int ids_init(vk_ids *s) {
    memset(s, 0, sizeof *s);
    s->next = 1;
    return pthread_mutex_init(&s->lock, NULL) == 0;
}

static void ids_destroy(vk_ids *s) {
    free(s->ids);
    pthread_mutex_destroy(&s->lock);
}

static int ids_add(vk_ids *s, uint64_t *out) {
    pthread_mutex_lock(&s->lock);
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? 2 * s->cap : 16;
        uint64_t *ids = realloc(s->ids, cap * sizeof *ids);
        if (!ids) {
            pthread_mutex_unlock(&s->lock);
            return 0;
        }
        s->ids = ids;
        s->cap = cap;
    }
    uint64_t id = s->next++;
    s->ids[s->n++] = id;
    pthread_mutex_unlock(&s->lock);
    *out = id;
    return 1;
}

/* 1 when id is live (and removed, with del). */
static int ids_find(vk_ids *s, uint64_t id, int del) {
    int found = 0;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->ids[i] != id) continue;
        found = 1;
        if (del) s->ids[i] = s->ids[--s->n];
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

int vk_check_stream(vk_dev *d, uint64_t stream) {
    if (stream == 0 || ids_find(&d->streams, stream, 0)) return STARK_DEV_OK;
    return vk_err(STARK_DEV_NOT_FOUND, "stream %llu (never created, or destroyed)", (unsigned long long)stream);
}

static void dev_destroy(vk_dev *d) {
    if (!d->dev) return;
    d->fn.vkDeviceWaitIdle(d->dev);
    for (vk_ctx *c = d->all_ctx, *next; c; c = next) {
        next = c->next_all;
        vk_ctx_destroy(d, c);
    }
    for (uint32_t i = 0; i < d->bufs.used; i++)
        if (d->bufs.obj && d->bufs.obj[i]) {
            vk_buf_destroy(d, d->bufs.obj[i]);
            free(d->bufs.obj[i]);
        }
    for (uint32_t i = 0; i < d->mods.used; i++)
        if (d->mods.obj && d->mods.obj[i]) vk_module_destroy(d, d->mods.obj[i]);
    for (int i = 0; i < PIPE_COUNT; i++)
        if (d->builtin[i]) d->fn.vkDestroyPipeline(d->dev, d->builtin[i], NULL);
    for (int i = 0; i <= VK_MAX_BINDINGS; i++) {
        if (d->layout[i]) d->fn.vkDestroyPipelineLayout(d->dev, d->layout[i], NULL);
        if (d->dsl[i]) d->fn.vkDestroyDescriptorSetLayout(d->dev, d->dsl[i], NULL);
    }
    d->fn.vkDestroyDevice(d->dev, NULL);
    d->dev = VK_NULL_HANDLE;
    vk_table_destroy(&d->bufs);
    vk_table_destroy(&d->mods);
    ids_destroy(&d->streams);
    ids_destroy(&d->events);
    pthread_mutex_destroy(&d->qlock);
    pthread_mutex_destroy(&d->plock);
    pthread_mutex_destroy(&d->clock);
}

/* Sets up d on physical device p (0: skipped, with the reason in tls_err). */
static int dev_setup(vk_dev *d, VkPhysicalDevice p, uint32_t inst_api) {
    memset(d, 0, sizeof *d);
    d->phys = p;
    G.vkGetPhysicalDeviceProperties(p, &d->props);
    G.vkGetPhysicalDeviceMemoryProperties(p, &d->memprops);
    d->qfam = compute_family(G.vkGetPhysicalDeviceQueueFamilyProperties, p);
    if (d->qfam == UINT32_MAX) return 0;
    uint32_t api = d->props.apiVersion < inst_api ? d->props.apiVersion : inst_api;

    uint32_t n_ext = 0;
    VkExtensionProperties *ext = NULL;
    if (G.vkEnumerateDeviceExtensionProperties(p, NULL, &n_ext, NULL) == VK_SUCCESS && n_ext) {
        ext = calloc(n_ext, sizeof *ext);
        if (!ext || G.vkEnumerateDeviceExtensionProperties(p, NULL, &n_ext, ext) < 0) n_ext = 0;
    }
    int want_push = G.opt_push_desc && has_ext(ext, n_ext, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
    int portability = has_ext(ext, n_ext, "VK_KHR_portability_subset");
    int amd = has_ext(ext, n_ext, VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME);
    int nv = has_ext(ext, n_ext, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME);
    int m4 = api >= VK_API_VERSION_1_3 || has_ext(ext, n_ext, VK_KHR_MAINTENANCE_4_EXTENSION_NAME);
    free(ext);

    /* Limits beyond Vulkan 1.0 (properties2 is core in 1.1). */
    uint64_t heap_max = 0;
    for (uint32_t i = 0; i < d->memprops.memoryHeapCount; i++)
        if ((d->memprops.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && d->memprops.memoryHeaps[i].size > heap_max)
            heap_max = d->memprops.memoryHeaps[i].size;
    uint64_t max_alloc = heap_max, max_buffer = UINT64_MAX;
    uint32_t units = 0;
    PFN_vkGetPhysicalDeviceProperties2 props2 =
        api >= VK_API_VERSION_1_1 ? (PFN_vkGetPhysicalDeviceProperties2)G.gipa(G.inst, "vkGetPhysicalDeviceProperties2") : NULL;
    if (props2) {
        VkPhysicalDeviceMaintenance3Properties m3p = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
        VkPhysicalDeviceMaintenance4Properties m4p = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES};
        VkPhysicalDeviceShaderCorePropertiesAMD amdp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD};
        VkPhysicalDeviceShaderSMBuiltinsPropertiesNV nvp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV};
        VkPhysicalDeviceProperties2 pr = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3p};
        void **tail = &m3p.pNext;
        if (m4) { *tail = &m4p; tail = &m4p.pNext; }
        if (amd) { *tail = &amdp; tail = &amdp.pNext; }
        if (nv) { *tail = &nvp; tail = &nvp.pNext; }
        props2(p, &pr);
        if (m3p.maxMemoryAllocationSize) max_alloc = m3p.maxMemoryAllocationSize;
        if (m4 && m4p.maxBufferSize) max_buffer = m4p.maxBufferSize;
        if (amd) units = amdp.shaderEngineCount * amdp.shaderArraysPerEngineCount * amdp.computeUnitsPerShaderArray;
        if (nv) units = nvp.shaderSMCount;
    }
    if (max_buffer < max_alloc) max_alloc = max_buffer;
    if (d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        units = cpus > 0 ? (uint32_t)cpus : 0;
    }

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = d->qfam,
                                   .queueCount = 1, .pQueuePriorities = &prio};
    const char *enable[2];
    uint32_t n_enable = 0;
    if (want_push) enable[n_enable++] = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
    if (portability) enable[n_enable++] = "VK_KHR_portability_subset";
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci, .enabledExtensionCount = n_enable,
                              .ppEnabledExtensionNames = n_enable ? enable : NULL};
    VkResult r = G.vkCreateDevice(p, &dci, NULL, &d->dev);
    if (r != VK_SUCCESS) {
        d->dev = VK_NULL_HANDLE;
        vk_err(STARK_DEV_INTERNAL, "vkCreateDevice(%s): %s", d->props.deviceName, vk_result_name(r));
        return 0;
    }
#define VK_X(n)                                                          \
    d->fn.n = (PFN_##n)G.vkGetDeviceProcAddr(d->dev, #n);                \
    if (!d->fn.n) {                                                      \
        vk_err(STARK_DEV_INTERNAL, "%s: no %s", d->props.deviceName, #n); \
        PFN_vkDestroyDevice destroy = (PFN_vkDestroyDevice)G.vkGetDeviceProcAddr(d->dev, "vkDestroyDevice"); \
        if (destroy) destroy(d->dev, NULL);                              \
        d->dev = VK_NULL_HANDLE;                                         \
        return 0;                                                        \
    }
    VK_DEVICE_FNS(VK_X)
#undef VK_X
    if (want_push)
        d->fn.vkCmdPushDescriptorSetKHR =
            (PFN_vkCmdPushDescriptorSetKHR)G.vkGetDeviceProcAddr(d->dev, "vkCmdPushDescriptorSetKHR");
    d->push_desc = d->fn.vkCmdPushDescriptorSetKHR != NULL;
    d->fn.vkGetDeviceQueue(d->dev, d->qfam, 0, &d->queue);

    const VkPhysicalDeviceLimits *lim = &d->props.limits;
    d->max_range = lim->maxStorageBufferRange;
    d->align = lim->minStorageBufferOffsetAlignment < 4 ? 4 : lim->minStorageBufferOffsetAlignment;
    d->bind_align = d->align < 16 ? 16 : d->align;
    d->range_elems = ((d->max_range & ~(uint64_t)3) - (d->bind_align - 4)) / 4;
    memcpy(d->max_groups, lim->maxComputeWorkGroupCount, sizeof d->max_groups);
    d->push_max = lim->maxPushConstantsSize < VK_PUSH_BYTES ? lim->maxPushConstantsSize : VK_PUSH_BYTES;
    d->max_alloc = max_alloc;

    /* Memory types, from a probe buffer's requirements. A mapped type (host
     * visible + coherent + device local) is used when it lives in the main
     * device-local heap (UMA, lavapipe, resizable BAR), not a small BAR window. */
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = 4096,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkBuffer probe;
    uint32_t bits = UINT32_MAX;
    if (d->fn.vkCreateBuffer(d->dev, &bci, NULL, &probe) == VK_SUCCESS) {
        VkMemoryRequirements req;
        d->fn.vkGetBufferMemoryRequirements(d->dev, probe, &req);
        bits = req.memoryTypeBits;
        d->fn.vkDestroyBuffer(d->dev, probe, NULL);
    }
    const VkMemoryPropertyFlags HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t local = find_type(&d->memprops, bits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, UINT32_MAX);
    uint32_t mapped = find_type(&d->memprops, bits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | HV, UINT32_MAX);
    if (mapped != UINT32_MAX && d->memprops.memoryHeaps[d->memprops.memoryTypes[mapped].heapIndex].size < heap_max)
        mapped = UINT32_MAX; /* a BAR window: too small for every buffer */
    if (mapped == UINT32_MAX && local == UINT32_MAX) mapped = find_type(&d->memprops, bits, HV, UINT32_MAX);
    d->staging_type = find_type(&d->memprops, bits, HV | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, UINT32_MAX);
    if (d->staging_type == UINT32_MAX) d->staging_type = find_type(&d->memprops, bits, HV, UINT32_MAX);
    d->mem_type_alt = UINT32_MAX;
    if (mapped != UINT32_MAX && G.opt_mapped) {
        d->mapped = 1;
        d->mem_type = mapped;
    } else {
        d->mem_type = local != UINT32_MAX ? local : mapped;
        if (d->mem_type == UINT32_MAX) d->mem_type = find_type(&d->memprops, bits, 0, UINT32_MAX);
    }
    if (d->mem_type == UINT32_MAX || (!d->mapped && d->staging_type == UINT32_MAX)) {
        vk_err(STARK_DEV_INTERNAL, "%s: no usable memory type for storage buffers", d->props.deviceName);
        d->fn.vkDestroyDevice(d->dev, NULL);
        d->dev = VK_NULL_HANDLE;
        return 0;
    }
    if (d->mapped && local != UINT32_MAX && local != mapped) d->mem_type_alt = local;

    stark_dev_info *in = &d->info;
    in->struct_size = sizeof *in;
    in->type = dev_type(d->props.deviceType);
    snprintf(in->name, sizeof in->name, "%.127s", d->props.deviceName);
    const char *v = vendor_name(d->props.vendorID);
    if (v) snprintf(in->vendor, sizeof in->vendor, "%s", v);
    else snprintf(in->vendor, sizeof in->vendor, "0x%04x", d->props.vendorID);
    in->memory_total = heap_max;
    in->memory_free = 0;
    in->max_alloc = max_alloc;
    in->max_binding = d->max_range;
    in->compute_units = units;
    d->rank = type_rank(d->props.deviceType);
    d->cpu = G.opt_cpu_kernels && d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;

    pthread_mutex_init(&d->qlock, NULL);
    pthread_mutex_init(&d->plock, NULL);
    pthread_mutex_init(&d->clock, NULL);
    if (!vk_table_init(&d->bufs) || !vk_table_init(&d->mods) || !ids_init(&d->streams) || !ids_init(&d->events)) {
        vk_err(STARK_DEV_EXHAUSTED, "out of host memory");
        dev_destroy(d);
        return 0;
    }
    return 1;
}

static void parse_options(const char *o) {
    G.opt_push_desc = 1;
    G.opt_mapped = 1;
    G.opt_cpu_kernels = 1;
    while (o && *o) {
        const char *end = strchr(o, ';');
        size_t len = end ? (size_t)(end - o) : strlen(o);
        if (len == 18 && strncmp(o, "push_descriptors=0", len) == 0) G.opt_push_desc = 0;
        if (len == 8 && strncmp(o, "mapped=0", len) == 0) G.opt_mapped = 0;
        if (len == 13 && strncmp(o, "cpu_kernels=0", len) == 0) G.opt_cpu_kernels = 0;
        o += len + (end ? 1 : 0);
    }
}

static void shutdown_all(void) {
    atomic_store(&G.ready, 0);
    for (uint32_t i = 0; i < G.ndev; i++) dev_destroy(&G.devs[i]);
    free(G.devs);
    G.devs = NULL;
    G.ndev = 0;
    if (G.inst && G.vkDestroyInstance) G.vkDestroyInstance(G.inst, NULL);
    G.inst = VK_NULL_HANDLE;
}

static int32_t vk_init(const stark_dev_init *opts) {
    if (opts && opts->struct_size < sizeof(uint32_t) * 2)
        return vk_err(STARK_DEV_INVALID, "stark_dev_init.struct_size %u is too small", opts->struct_size);
    pthread_mutex_lock(&init_lock);
    if (init_count > 0) { /* the library is shared: a second init joins the first */
        init_count++;
        pthread_mutex_unlock(&init_lock);
        return STARK_DEV_OK;
    }
    parse_options(opts && opts->struct_size >= sizeof *opts ? opts->options : NULL);
    pthread_once(&loader_once, load_loader);
    if (!G.gipa) {
        pthread_mutex_unlock(&init_lock);
        return vk_err(STARK_DEV_UNSUPPORTED, "libvulkan.so.1 not found (install a Vulkan loader and driver)");
    }
    uint32_t api;
    VkResult r = create_instance(&G.inst, &api);
    if (r != VK_SUCCESS) {
        G.inst = VK_NULL_HANDLE;
        pthread_mutex_unlock(&init_lock);
        if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
            return vk_err(STARK_DEV_UNSUPPORTED, "vkCreateInstance: %s (no usable Vulkan driver)", vk_result_name(r));
        return vk_fail(NULL, r, "vkCreateInstance");
    }
#define VK_X(n) G.n = (PFN_##n)G.gipa(G.inst, #n);
    VK_INSTANCE_FNS(VK_X)
#undef VK_X
    int ok = 1;
#define VK_X(n) ok = ok && G.n != NULL;
    VK_INSTANCE_FNS(VK_X)
#undef VK_X
    uint32_t n = 0;
    VkPhysicalDevice *p = NULL;
    if (ok && G.vkEnumeratePhysicalDevices(G.inst, &n, NULL) == VK_SUCCESS && n > 0) {
        p = calloc(n, sizeof *p);
        G.devs = calloc(n, sizeof *G.devs);
        if (!p || !G.devs || G.vkEnumeratePhysicalDevices(G.inst, &n, p) < 0) n = 0;
    }
    /* Best device first (stable): discrete, integrated, then the rest. */
    uint32_t *rank = calloc(n ? n : 1, sizeof *rank);
    if (!rank) n = 0;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties pr;
        G.vkGetPhysicalDeviceProperties(p[i], &pr);
        rank[i] = type_rank(pr.deviceType);
        for (uint32_t j = i; j > 0 && rank[j] > rank[j - 1]; j--) {
            uint32_t tr = rank[j];
            rank[j] = rank[j - 1];
            rank[j - 1] = tr;
            VkPhysicalDevice tp = p[j];
            p[j] = p[j - 1];
            p[j - 1] = tp;
        }
    }
    free(rank);
    char why[256] = "";
    for (uint32_t i = 0; i < n; i++) {
        if (dev_setup(&G.devs[G.ndev], p[i], api)) G.ndev++;
        else if (!why[0]) snprintf(why, sizeof why, "%.255s", tls_err);
    }
    free(p);
    if (G.ndev == 0) {
        shutdown_all();
        pthread_mutex_unlock(&init_lock);
        return vk_err(STARK_DEV_UNSUPPORTED, "no usable Vulkan device with a compute queue%s%s", why[0] ? ": " : "", why);
    }
    init_count = 1;
    atomic_store_explicit(&G.ready, 1, memory_order_release);
    pthread_mutex_unlock(&init_lock);
    return STARK_DEV_OK;
}

static int32_t vk_shutdown(void) {
    pthread_mutex_lock(&init_lock);
    if (init_count == 0) {
        pthread_mutex_unlock(&init_lock);
        return vk_err(STARK_DEV_STOPPED, "the vulkan backend is not initialised");
    }
    if (--init_count == 0) shutdown_all();
    pthread_mutex_unlock(&init_lock);
    return STARK_DEV_OK;
}

static int32_t vk_last_error(char *buf, uint64_t cap) {
    if (!buf || cap == 0) return STARK_DEV_INVALID;
    size_t n = strlen(tls_err);
    if (n >= cap) n = (size_t)cap - 1;
    memcpy(buf, tls_err, n);
    buf[n] = 0;
    return STARK_DEV_OK;
}

static int32_t vk_device_count(uint32_t *out) {
    if (!out) return vk_err(STARK_DEV_INVALID, "device_count: NULL out");
    if (!atomic_load_explicit(&G.ready, memory_order_acquire))
        return vk_err(STARK_DEV_STOPPED, "the vulkan backend is not initialised (or was shut down)");
    *out = G.ndev;
    return STARK_DEV_OK;
}

static int32_t vk_device_info(uint32_t device, stark_dev_info *out) {
    if (!out || out->struct_size < sizeof(uint32_t))
        return vk_err(STARK_DEV_INVALID, "device_info: NULL out or struct_size too small");
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    uint32_t size = out->struct_size < sizeof(stark_dev_info) ? out->struct_size : (uint32_t)sizeof(stark_dev_info);
    memcpy((char *)out + sizeof(uint32_t), (const char *)&d->info + sizeof(uint32_t), size - sizeof(uint32_t));
    return STARK_DEV_OK;
}

/* ---- streams and events (synchronous) ---- */

static int32_t vk_stream_create(uint32_t device, uint64_t *out) {
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    if (!out) return vk_err(STARK_DEV_INVALID, "stream_create: NULL out");
    return ids_add(&d->streams, out) ? STARK_DEV_OK : vk_err(STARK_DEV_EXHAUSTED, "out of host memory");
}

static int32_t vk_stream_destroy(uint32_t device, uint64_t stream) {
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    if (stream == 0 || !ids_find(&d->streams, stream, 1))
        return vk_err(STARK_DEV_NOT_FOUND, "stream %llu", (unsigned long long)stream);
    return STARK_DEV_OK;
}

static int32_t vk_stream_sync(uint32_t device, uint64_t stream) {
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    return vk_check_stream(d, stream); /* its work finished when each call returned */
}

static int32_t vk_event_record(uint32_t device, uint64_t stream, uint64_t *out) {
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    if (!out) return vk_err(STARK_DEV_INVALID, "event_record: NULL out");
    if ((st = vk_check_stream(d, stream))) return st;
    return ids_add(&d->events, out) ? STARK_DEV_OK : vk_err(STARK_DEV_EXHAUSTED, "out of host memory");
}

static int32_t vk_event_sync(uint32_t device, uint64_t event) {
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    if (!ids_find(&d->events, event, 0)) return vk_err(STARK_DEV_NOT_FOUND, "event %llu", (unsigned long long)event);
    return STARK_DEV_OK;
}

static int32_t vk_event_destroy(uint32_t device, uint64_t event) {
    vk_dev *d;
    int st = vk_get_dev(device, &d);
    if (st) return st;
    if (!ids_find(&d->events, event, 1)) return vk_err(STARK_DEV_NOT_FOUND, "event %llu", (unsigned long long)event);
    return STARK_DEV_OK;
}

/* Every call waits for its own submission before it returns, so nothing is
 * ever pending here (vkDeviceWaitIdle would cost a queue round trip). */
static int32_t vk_synchronize(uint32_t device) {
    vk_dev *d;
    return vk_get_dev(device, &d);
}

static const stark_device_api API = {
    .struct_size = sizeof(stark_device_api),
    .abi_version = STARK_DEVICE_ABI_VERSION,
    .name = "vulkan",
    .caps = STARK_DEV_CAP_EVENTS | STARK_DEV_CAP_SPIRV,
    .init = vk_init,
    .shutdown = vk_shutdown,
    .last_error = vk_last_error,
    .device_count = vk_device_count,
    .device_info = vk_device_info,
    .mem_alloc = vk_mem_alloc,
    .mem_free = vk_mem_free,
    .memcpy = vk_memcpy,
    .stream_create = vk_stream_create,
    .stream_destroy = vk_stream_destroy,
    .stream_sync = vk_stream_sync,
    .event_record = vk_event_record,
    .event_sync = vk_event_sync,
    .event_destroy = vk_event_destroy,
    .synchronize = vk_synchronize,
    .op_supported = vk_op_supported,
    .launch_op = vk_launch_op,
    .module_load = vk_module_load,
    .module_unload = vk_module_unload,
    .module_launch = vk_module_launch,
};

VK_EXPORT const stark_device_api *stark_device_query(uint32_t host_abi_version) {
    return host_abi_version == STARK_DEVICE_ABI_VERSION ? &API : NULL;
}
