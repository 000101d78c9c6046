/*
 * metal.m - STARK's Metal device plugin (abi/stark_device.h), macOS only.
 *
 * Devices are MTLCopyAllDevices(). Buffers are MTLResourceStorageModeShared
 * (host-visible), so copies are memcpy once the stream's earlier GPU work is
 * done. A stream is an MTLCommandQueue with the last command buffer it
 * committed; stream 0 is the device's own queue, and each call on it waits
 * for its command buffer. An event is the command buffer a stream last
 * committed. The built-in ops are Metal Shading Language (below), compiled
 * at init with newLibraryWithSource; module_load takes metallib files.
 *
 * Unverified: written without a Mac at hand (no compiler, no device); the
 * CUDA and ROCm plugins share its argument checks (plugins/cuda/gpu_common.h),
 * which are tested on Linux.
 */
#import <Foundation/Foundation.h>
#import <Metal/Metal.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "../cuda/gpu_common.h"

/* ---- the kernels ---------------------------------------------------------- */

static const char mt_source[] =
    "#include <metal_stdlib>\n"
    "using namespace metal;\n"
    "struct ew_args { ulong n; float alpha; uint op; };\n"
    "struct rows_args { ulong m, n, lda, ldc; uint op; uint pad; };\n"
    "struct mm_args { ulong m, n, k, lda, ldb, ldc; float alpha, beta; uint ta, tb; };\n"
    "static inline float maxp(float x, float y) { return (x > y || isnan(x)) ? x : y; }\n"
    /* elementwise: op is STARK_OP_* (FILL 1, COPY 2, SCALE 3, AXPY 4, ADD 5, MUL 6, RELU 7) */
    "kernel void stark_ew(device float *c [[buffer(0)]], device const float *a [[buffer(1)]],\n"
    "                     device const float *b [[buffer(2)]], constant ew_args &p [[buffer(3)]],\n"
    "                     uint tid [[thread_position_in_grid]], uint nt [[threads_per_grid]]) {\n"
    "    for (ulong i = tid; i < p.n; i += nt) {\n"
    "        float v;\n"
    "        switch (p.op) {\n"
    "        case 1: v = p.alpha; break;\n"
    "        case 2: v = a[i]; break;\n"
    "        case 3: v = p.alpha * a[i]; break;\n"
    "        case 4: v = p.alpha * a[i] + c[i]; break;\n"
    "        case 5: v = a[i] + b[i]; break;\n"
    "        case 6: v = a[i] * b[i]; break;\n"
    "        default: { float x = a[i]; v = x < 0.0f ? 0.0f : x; }\n"
    "        }\n"
    "        c[i] = v;\n"
    "    }\n"
    "}\n"
    /* reductions over a threadgroup (a power of two, at most 1024) */
    "static float tg_sum(float v, threadgroup float *sh, uint lid, uint n) {\n"
    "    threadgroup_barrier(mem_flags::mem_threadgroup);\n"
    "    sh[lid] = v;\n"
    "    threadgroup_barrier(mem_flags::mem_threadgroup);\n"
    "    for (uint s = n / 2; s > 0; s >>= 1) {\n"
    "        if (lid < s) sh[lid] += sh[lid + s];\n"
    "        threadgroup_barrier(mem_flags::mem_threadgroup);\n"
    "    }\n"
    "    return sh[0];\n"
    "}\n"
    "static float tg_max(float v, threadgroup float *sh, uint lid, uint n) {\n"
    "    threadgroup_barrier(mem_flags::mem_threadgroup);\n"
    "    sh[lid] = v;\n"
    "    threadgroup_barrier(mem_flags::mem_threadgroup);\n"
    "    for (uint s = n / 2; s > 0; s >>= 1) {\n"
    "        if (lid < s) sh[lid] = maxp(sh[lid], sh[lid + s]);\n"
    "        threadgroup_barrier(mem_flags::mem_threadgroup);\n"
    "    }\n"
    "    return sh[0];\n"
    "}\n"
    /* a threadgroup per row; op 9: sum (compensated), 10: max */
    "kernel void stark_reduce(device float *c [[buffer(0)]], device const float *a [[buffer(1)]],\n"
    "                         constant rows_args &p [[buffer(3)]], uint g [[threadgroup_position_in_grid]],\n"
    "                         uint ng [[threadgroups_per_grid]], uint lid [[thread_position_in_threadgroup]],\n"
    "                         uint tn [[threads_per_threadgroup]]) {\n"
    "    threadgroup float sh[1024];\n"
    "    for (ulong r = g; r < p.m; r += ng) {\n"
    "        device const float *row = a + r * p.lda;\n"
    "        float v;\n"
    "        if (p.op == 10) {\n"
    "            v = -INFINITY;\n"
    "            for (ulong j = lid; j < p.n; j += tn) v = maxp(v, row[j]);\n"
    "            v = tg_max(v, sh, lid, tn);\n"
    "        } else {\n"
    "            float s = 0.0f, comp = 0.0f;\n"
    "            for (ulong j = lid; j < p.n; j += tn) {\n"
    "                float y = row[j] - comp, t = s + y;\n"
    "                comp = (t - s) - y;\n"
    "                s = t;\n"
    "            }\n"
    "            v = tg_sum(s, sh, lid, tn);\n"
    "        }\n"
    "        if (lid == 0) c[r] = v;\n"
    "    }\n"
    "}\n"
    "kernel void stark_softmax(device float *c [[buffer(0)]], device const float *a [[buffer(1)]],\n"
    "                          constant rows_args &p [[buffer(3)]], uint g [[threadgroup_position_in_grid]],\n"
    "                          uint ng [[threadgroups_per_grid]], uint lid [[thread_position_in_threadgroup]],\n"
    "                          uint tn [[threads_per_threadgroup]]) {\n"
    "    threadgroup float sh[1024];\n"
    "    for (ulong r = g; r < p.m; r += ng) {\n"
    "        device const float *row = a + r * p.lda;\n"
    "        device float *out = c + r * p.ldc;\n"
    "        float mx = -INFINITY;\n"
    "        for (ulong j = lid; j < p.n; j += tn) mx = maxp(mx, row[j]);\n"
    "        mx = tg_max(mx, sh, lid, tn);\n"
    "        float s = 0.0f;\n"
    "        for (ulong j = lid; j < p.n; j += tn) s += precise::exp(row[j] - mx);\n"
    "        s = tg_sum(s, sh, lid, tn);\n"
    "        float inv = 1.0f / s;\n"
    "        for (ulong j = lid; j < p.n; j += tn) out[j] = precise::exp(row[j] - mx) * inv;\n"
    "    }\n"
    "}\n"
    /* C = alpha op(A) op(B) + beta C: 16x16 tiles, a thread per element of C */
    "kernel void stark_matmul(device float *c [[buffer(0)]], device const float *a [[buffer(1)]],\n"
    "                         device const float *b [[buffer(2)]], constant mm_args &p [[buffer(3)]],\n"
    "                         uint2 tg [[threadgroup_position_in_grid]], uint2 lt [[thread_position_in_threadgroup]]) {\n"
    "    threadgroup float As[16][17];\n"
    "    threadgroup float Bs[16][17];\n"
    "    ulong row = (ulong)tg.y * 16 + lt.y, col = (ulong)tg.x * 16 + lt.x;\n"
    "    float acc = 0.0f;\n"
    "    for (ulong k0 = 0; k0 < p.k; k0 += 16) {\n"
    "        ulong ka = k0 + lt.x, kb = k0 + lt.y;\n"
    "        float av = 0.0f, bv = 0.0f;\n"
    "        if (row < p.m && ka < p.k) av = p.ta ? a[ka * p.lda + row] : a[row * p.lda + ka];\n"
    "        if (kb < p.k && col < p.n) bv = p.tb ? b[col * p.ldb + kb] : b[kb * p.ldb + col];\n"
    "        As[lt.y][lt.x] = av;\n"
    "        Bs[lt.y][lt.x] = bv;\n"
    "        threadgroup_barrier(mem_flags::mem_threadgroup);\n"
    "        for (uint kk = 0; kk < 16; kk++) acc = fma(As[lt.y][kk], Bs[kk][lt.x], acc);\n"
    "        threadgroup_barrier(mem_flags::mem_threadgroup);\n"
    "    }\n"
    "    if (row < p.m && col < p.n) {\n"
    "        float v = p.alpha * acc;\n"
    "        if (p.beta != 0.0f) v += p.beta * c[row * p.ldc + col];\n"
    "        c[row * p.ldc + col] = v;\n"
    "    }\n"
    "}\n";

/* the argument structs, as the kernels declare them */
typedef struct mt_ew_args {
    uint64_t n;
    float alpha;
    uint32_t op;
} mt_ew_args;
typedef struct mt_rows_args {
    uint64_t m, n, lda, ldc;
    uint32_t op, pad;
} mt_rows_args;
typedef struct mt_mm_args {
    uint64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    uint32_t ta, tb;
} mt_mm_args;

/* ---- objects -------------------------------------------------------------- */

@interface STKDevice : NSObject
@property(nonatomic, strong) id<MTLDevice> dev;
@property(nonatomic, strong) id<MTLCommandQueue> queue; /* stream 0 */
@property(nonatomic, strong) id<MTLComputePipelineState> ew, reduce, softmax, matmul;
@property(nonatomic, copy) NSString *kerr; /* why there are no kernels */
@property(nonatomic) uint32_t index;
@end
@implementation STKDevice
@end

@interface STKStream : NSObject {
  @public
    pthread_mutex_t mu;
}
@property(nonatomic, strong) id<MTLCommandQueue> queue;
@property(nonatomic, strong) id<MTLCommandBuffer> last;
@end
@implementation STKStream
- (instancetype)init {
    if ((self = [super init]))
        pthread_mutex_init(&mu, NULL);
    return self;
}
- (void)dealloc {
    pthread_mutex_destroy(&mu);
}
@end

@interface STKEvent : NSObject
@property(nonatomic, strong) id<MTLCommandBuffer> cb; /* nil: nothing was pending */
@end
@implementation STKEvent
@end

@interface STKModule : NSObject
@property(nonatomic, strong) id<MTLLibrary> lib;
@property(nonatomic, strong) NSMutableDictionary<NSString *, id<MTLComputePipelineState>> *pipes;
@end
@implementation STKModule
@end

static struct {
    atomic_int up;
    sk_table tab;
    int verbose;
} g = {.tab = {.mu = PTHREAD_MUTEX_INITIALIZER}};
static NSArray<STKDevice *> *g_devs;

/* the native of an sk_obj is a retained Objective-C object */
static void mt_destroy(sk_obj *o) {
    if (o->native != 0)
        CFBridgingRelease((CFTypeRef)o->native);
    o->native = 0;
}

#define OBJ(o) ((__bridge id)(void *)(o)->native)

static int32_t mt_publish(uint32_t type, uint32_t device, id obj, uint64_t size, uint64_t *out) {
    sk_obj *o = (sk_obj *)calloc(1, sizeof *o);
    if (o == NULL)
        return sk_fail(STARK_DEV_EXHAUSTED, "metal: out of host memory");
    o->type = type;
    o->device = device;
    o->size = size;
    o->native = (uintptr_t)CFBridgingRetain(obj);
    o->destroy = mt_destroy;
    uint64_t h = sk_insert(&g.tab, o);
    if (h == 0) {
        sk_release(o);
        return sk_fail(STARK_DEV_EXHAUSTED, "metal: out of host memory for the handle table");
    }
    *out = h;
    return STARK_DEV_OK;
}

static int32_t mt_enter(uint32_t device, STKDevice **out) {
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, "metal: not initialised (or shut down)");
    NSArray<STKDevice *> *devs = g_devs;
    if (device >= devs.count)
        return sk_fail(STARK_DEV_NOT_FOUND, "metal: no device %u (%lu devices)", device, (unsigned long)devs.count);
    *out = devs[device];
    return STARK_DEV_OK;
}

/* mt_cb_status: the outcome of a completed command buffer */
static int32_t mt_cb_status(id<MTLCommandBuffer> cb, const char *what) {
    if (cb == nil || cb.status != MTLCommandBufferStatusError)
        return STARK_DEV_OK;
    NSError *e = cb.error;
    int32_t st = STARK_DEV_INTERNAL;
    if (e != nil && [e.domain isEqualToString:MTLCommandBufferErrorDomain]) {
        switch ((MTLCommandBufferError)e.code) {
        case MTLCommandBufferErrorTimeout:
            st = STARK_DEV_TIMEOUT;
            break;
        case MTLCommandBufferErrorOutOfMemory:
            st = STARK_DEV_EXHAUSTED;
            break;
        case MTLCommandBufferErrorDeviceRemoved:
            st = STARK_DEV_LOST;
            break;
        default:
            break;
        }
    }
    return sk_fail(st, "metal: %s: the command buffer failed: %s", what,
                   e ? e.localizedDescription.UTF8String : "no error description");
}

/* mt_stream: 0 is the device's queue (*s stays nil: the call waits). */
static int32_t mt_stream(uint32_t device, uint64_t stream, sk_obj **so, STKStream **s) {
    *so = NULL;
    *s = nil;
    if (stream == 0)
        return STARK_DEV_OK;
    int32_t st = STARK_DEV_OK;
    *so = sk_get(&g.tab, stream, SK_STREAM, device, &st);
    if (*so == NULL)
        return st;
    *s = (STKStream *)OBJ(*so);
    return STARK_DEV_OK;
}

/* mt_drain waits for the stream's committed work (the host is about to
 * touch memory the work may use). */
static int32_t mt_drain(STKStream *s, const char *what) {
    if (s == nil)
        return STARK_DEV_OK;
    pthread_mutex_lock(&s->mu);
    id<MTLCommandBuffer> cb = s.last;
    pthread_mutex_unlock(&s->mu);
    if (cb == nil)
        return STARK_DEV_OK;
    [cb waitUntilCompleted];
    return mt_cb_status(cb, what);
}

/* mt_submit encodes work on a new command buffer of the stream (or of the
 * device's queue, then waits for it). */
static int32_t mt_submit(STKDevice *d, STKStream *s, const char *what, void (^encode)(id<MTLComputeCommandEncoder> enc)) {
    if (s != nil)
        pthread_mutex_lock(&s->mu);
    id<MTLCommandQueue> q = s != nil ? s.queue : d.queue;
    id<MTLCommandBuffer> cb = [q commandBuffer];
    id<MTLComputeCommandEncoder> enc = [cb computeCommandEncoder];
    if (cb == nil || enc == nil) {
        if (s != nil)
            pthread_mutex_unlock(&s->mu);
        return sk_fail(STARK_DEV_INTERNAL, "metal: %s: no command buffer or encoder", what);
    }
    encode(enc);
    [enc endEncoding];
    [cb commit];
    if (s != nil) {
        s.last = cb;
        pthread_mutex_unlock(&s->mu);
        return STARK_DEV_OK;
    }
    [cb waitUntilCompleted];
    return mt_cb_status(cb, what);
}

/* ---- the table's entries -------------------------------------------------- */

static int32_t mt_last_error(char *buf, uint64_t cap) { return sk_last_error(buf, cap); }

static int32_t mt_device_count(uint32_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "device_count: NULL");
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, "metal: not initialised (or shut down)");
    *out = (uint32_t)g_devs.count;
    return STARK_DEV_OK;
}

static const char *mt_vendor(NSString *name) {
    if ([name rangeOfString:@"AMD"].location != NSNotFound || [name rangeOfString:@"Radeon"].location != NSNotFound)
        return "AMD";
    if ([name rangeOfString:@"Intel"].location != NSNotFound)
        return "Intel";
    if ([name rangeOfString:@"NVIDIA"].location != NSNotFound)
        return "NVIDIA";
    return "Apple";
}

static int32_t mt_device_info(uint32_t device, stark_dev_info *out) {
    @autoreleasepool {
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        stark_dev_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        id<MTLDevice> dev = d.dev;
        info.type = dev.hasUnifiedMemory ? STARK_DEV_TYPE_INTEGRATED : STARK_DEV_TYPE_DISCRETE;
        sk_copy_name(info.name, sizeof info.name, dev.name.UTF8String);
        sk_copy_name(info.vendor, sizeof info.vendor, mt_vendor(dev.name));
        uint64_t total = dev.recommendedMaxWorkingSetSize, used = dev.currentAllocatedSize;
        info.memory_total = total;
        info.memory_free = total > used ? total - used : 0;
        info.max_alloc = dev.maxBufferLength;
        info.max_binding = dev.maxBufferLength; /* a binding covers any buffer */
        info.compute_units = 0;                 /* Metal does not say */
        return sk_write_info(out, &info);
    }
}

static int32_t mt_mem_alloc(uint32_t device, uint64_t bytes, uint64_t *out) {
    @autoreleasepool {
        if (out == NULL)
            return sk_fail(STARK_DEV_INVALID, "mem_alloc: NULL out_handle");
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        if (bytes == 0)
            return sk_fail(STARK_DEV_INVALID, "mem_alloc: zero bytes");
        if (bytes > d.dev.maxBufferLength)
            return sk_fail(bytes > d.dev.recommendedMaxWorkingSetSize ? STARK_DEV_EXHAUSTED : STARK_DEV_TOO_LARGE,
                           "metal: mem_alloc of %llu bytes: over the device's largest buffer (%llu bytes)",
                           (unsigned long long)bytes, (unsigned long long)d.dev.maxBufferLength);
        id<MTLBuffer> b = [d.dev newBufferWithLength:(NSUInteger)bytes options:MTLResourceStorageModeShared];
        if (b == nil)
            return sk_fail(STARK_DEV_EXHAUSTED, "metal: mem_alloc of %llu bytes: out of device memory",
                           (unsigned long long)bytes);
        return mt_publish(SK_BUF, device, b, bytes, out);
    }
}

static int32_t mt_mem_free(uint32_t device, uint64_t handle) {
    @autoreleasepool {
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        return sk_remove(&g.tab, handle, SK_BUF, device);
    }
}

static int32_t mt_memcpy(const stark_dev_copy *in) {
    @autoreleasepool {
        stark_dev_copy c;
        int32_t st = sk_read_struct(in, sizeof c, &c, sizeof c, "memcpy");
        if (st != STARK_DEV_OK)
            return st;
        STKDevice *d;
        if ((st = mt_enter(c.device, &d)) != STARK_DEV_OK)
            return st;
        if (c.kind > STARK_COPY_D2D)
            return sk_fail(STARK_DEV_INVALID, "memcpy: unknown kind %u", c.kind);
        if (c.kind == STARK_COPY_H2D && c.host_src == NULL && c.bytes > 0)
            return sk_fail(STARK_DEV_INVALID, "memcpy: host_src is NULL");
        if (c.kind == STARK_COPY_D2H && c.host_dst == NULL && c.bytes > 0)
            return sk_fail(STARK_DEV_INVALID, "memcpy: host_dst is NULL");
        sk_obj *src = NULL, *dst = NULL, *so = NULL;
        STKStream *s = nil;
        if (c.kind != STARK_COPY_H2D && (src = sk_get(&g.tab, c.src.handle, SK_BUF, c.device, &st)) == NULL)
            goto out;
        if (c.kind != STARK_COPY_D2H && (dst = sk_get(&g.tab, c.dst.handle, SK_BUF, c.device, &st)) == NULL)
            goto out;
        if (src != NULL && (st = sk_check_bytes("memcpy: src", src, c.src.offset, c.bytes)) != STARK_DEV_OK)
            goto out;
        if (dst != NULL && (st = sk_check_bytes("memcpy: dst", dst, c.dst.offset, c.bytes)) != STARK_DEV_OK)
            goto out;
        if (src != NULL && dst != NULL && sk_overlap(src, c.src.offset, c.bytes, dst, c.dst.offset, c.bytes) &&
            c.src.offset != c.dst.offset) {
            st = sk_fail(STARK_DEV_INVALID, "memcpy: the source and destination ranges overlap");
            goto out;
        }
        if ((st = mt_stream(c.device, c.stream, &so, &s)) != STARK_DEV_OK)
            goto out;
        /* the copy waits for the stream's earlier work, then is done at once */
        if ((st = mt_drain(s, "memcpy")) == STARK_DEV_OK && c.bytes > 0) {
            char *sp = src ? (char *)((id<MTLBuffer>)OBJ(src)).contents + c.src.offset : (char *)c.host_src;
            char *dp = dst ? (char *)((id<MTLBuffer>)OBJ(dst)).contents + c.dst.offset : (char *)c.host_dst;
            if (sp != dp)
                memcpy(dp, sp, (size_t)c.bytes);
        }
        sk_put(&g.tab, so);
    out:
        sk_put(&g.tab, src);
        sk_put(&g.tab, dst);
        return st;
    }
}

static int32_t mt_stream_create(uint32_t device, uint64_t *out) {
    @autoreleasepool {
        if (out == NULL)
            return sk_fail(STARK_DEV_INVALID, "stream_create: NULL");
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        STKStream *s = [[STKStream alloc] init];
        s.queue = [d.dev newCommandQueue];
        if (s.queue == nil)
            return sk_fail(STARK_DEV_EXHAUSTED, "metal: newCommandQueue failed");
        return mt_publish(SK_STREAM, device, s, 0, out);
    }
}

static int32_t mt_stream_destroy(uint32_t device, uint64_t stream) {
    @autoreleasepool {
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        return sk_remove(&g.tab, stream, SK_STREAM, device);
    }
}

static int32_t mt_stream_sync(uint32_t device, uint64_t stream) {
    @autoreleasepool {
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        sk_obj *so;
        STKStream *s;
        if ((st = mt_stream(device, stream, &so, &s)) != STARK_DEV_OK)
            return st;
        st = mt_drain(s, "stream_sync");
        sk_put(&g.tab, so);
        return st;
    }
}

static int32_t mt_event_record(uint32_t device, uint64_t stream, uint64_t *out) {
    @autoreleasepool {
        if (out == NULL)
            return sk_fail(STARK_DEV_INVALID, "event_record: NULL");
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        sk_obj *so;
        STKStream *s;
        if ((st = mt_stream(device, stream, &so, &s)) != STARK_DEV_OK)
            return st;
        STKEvent *e = [[STKEvent alloc] init];
        if (s != nil) {
            pthread_mutex_lock(&s->mu);
            e.cb = s.last;
            pthread_mutex_unlock(&s->mu);
        }
        st = mt_publish(SK_EVENT, device, e, 0, out);
        sk_put(&g.tab, so);
        return st;
    }
}

static int32_t mt_event_sync(uint32_t device, uint64_t event) {
    @autoreleasepool {
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        sk_obj *o = sk_get(&g.tab, event, SK_EVENT, device, &st);
        if (o == NULL)
            return st;
        id<MTLCommandBuffer> cb = ((STKEvent *)OBJ(o)).cb;
        if (cb != nil) {
            [cb waitUntilCompleted];
            st = mt_cb_status(cb, "event_sync");
        }
        sk_put(&g.tab, o);
        return st;
    }
}

static int32_t mt_event_destroy(uint32_t device, uint64_t event) {
    @autoreleasepool {
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        return sk_remove(&g.tab, event, SK_EVENT, device);
    }
}

/* synchronize: an empty command buffer on every stream of the device,
 * waited for, orders after all their work; stream 0's work is always done. */
static int32_t mt_synchronize(uint32_t device) {
    @autoreleasepool {
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        NSMutableArray<STKStream *> *streams = [NSMutableArray array];
        pthread_mutex_lock(&g.tab.mu);
        for (size_t i = 0; i < g.tab.cap; i++) {
            sk_obj *o = g.tab.slots[i];
            if (o != NULL && o->type == SK_STREAM && o->device == device)
                [streams addObject:(STKStream *)OBJ(o)];
        }
        pthread_mutex_unlock(&g.tab.mu);
        for (STKStream *s in streams) {
            int32_t r = mt_drain(s, "synchronize");
            if (r != STARK_DEV_OK && st == STARK_DEV_OK)
                st = r;
        }
        return st;
    }
}

/* ---- ops ------------------------------------------------------------------ */

static int32_t mt_op_check(const stark_dev_op *in, stark_dev_op *op, sk_plan *p, STKDevice **d) {
    int32_t st = sk_read_struct(in, sizeof *op, op, sizeof *op, "op");
    if (st != STARK_DEV_OK)
        return st;
    if ((st = mt_enter(op->device, d)) != STARK_DEV_OK)
        return st;
    if ((st = sk_plan_op(op, p)) != STARK_DEV_OK)
        return st;
    if ((*d).ew == nil)
        return sk_fail(STARK_DEV_UNSUPPORTED, "metal: %s: the built-in kernels are unavailable: %s", sk_op_name(p->kind),
                       (*d).kerr.UTF8String);
    if (p->kind == STARK_OP_MATMUL && (*d).matmul.maxTotalThreadsPerThreadgroup < 256)
        return sk_fail(STARK_DEV_UNSUPPORTED, "metal: matmul needs 256 threads per threadgroup, the device runs %lu",
                       (unsigned long)(*d).matmul.maxTotalThreadsPerThreadgroup);
    return STARK_DEV_OK;
}

static int32_t mt_op_supported(const stark_dev_op *in) {
    @autoreleasepool {
        stark_dev_op op;
        sk_plan p;
        STKDevice *d;
        return mt_op_check(in, &op, &p, &d);
    }
}

/* the largest power of two threads (<= 256) a pipeline takes */
static NSUInteger mt_pow2_threads(id<MTLComputePipelineState> ps) {
    NSUInteger n = 256;
    while (n > 1 && n > ps.maxTotalThreadsPerThreadgroup)
        n >>= 1;
    return n;
}

static int32_t mt_launch_op(const stark_dev_op *in) {
    @autoreleasepool {
        stark_dev_op op;
        sk_plan p;
        STKDevice *d;
        int32_t st = mt_op_check(in, &op, &p, &d);
        if (st != STARK_DEV_OK)
            return st;
        const char *name = sk_op_name(p.kind);
        sk_obj *a = NULL, *b = NULL, *c = NULL, *so = NULL;
        STKStream *s = nil;
        if (p.use_a && (a = sk_get(&g.tab, op.a.handle, SK_BUF, op.device, &st)) == NULL)
            goto out;
        if (p.use_b && (b = sk_get(&g.tab, op.b.handle, SK_BUF, op.device, &st)) == NULL)
            goto out;
        if ((c = sk_get(&g.tab, op.c.handle, SK_BUF, op.device, &st)) == NULL)
            goto out;
        if (a != NULL && (st = sk_check_view(name, "a", a, op.a.offset, p.ext_a)) != STARK_DEV_OK)
            goto out;
        if (b != NULL && (st = sk_check_view(name, "b", b, op.b.offset, p.ext_b)) != STARK_DEV_OK)
            goto out;
        if ((st = sk_check_view(name, "c", c, op.c.offset, p.ext_c)) != STARK_DEV_OK)
            goto out;
        if ((st = sk_check_alias(&p, a, op.a.offset, b, op.b.offset, c, op.c.offset)) != STARK_DEV_OK)
            goto out;
        if ((st = mt_stream(op.device, op.stream, &so, &s)) != STARK_DEV_OK)
            goto out;
        if ((p.kind <= STARK_OP_RELU && p.n == 0)) {
            sk_put(&g.tab, so);
            goto out;
        }
        {
            id<MTLBuffer> C = (id<MTLBuffer>)OBJ(c);
            id<MTLBuffer> A = a ? (id<MTLBuffer>)OBJ(a) : C;
            id<MTLBuffer> B = b ? (id<MTLBuffer>)OBJ(b) : C;
            NSUInteger ao = a ? (NSUInteger)op.a.offset : (NSUInteger)op.c.offset;
            NSUInteger bo = b ? (NSUInteger)op.b.offset : (NSUInteger)op.c.offset;
            NSUInteger co = (NSUInteger)op.c.offset;
            const sk_plan pl = p;
            st = mt_submit(d, s, name, ^(id<MTLComputeCommandEncoder> enc) {
              [enc setBuffer:C offset:co atIndex:0];
              [enc setBuffer:A offset:ao atIndex:1];
              [enc setBuffer:B offset:bo atIndex:2];
              if (pl.kind <= STARK_OP_RELU) {
                  mt_ew_args x = {pl.n, pl.alpha, pl.kind};
                  NSUInteger tpg = mt_pow2_threads(d.ew);
                  uint64_t groups = (pl.n + tpg - 1) / tpg;
                  if (groups > 65535)
                      groups = 65535;
                  [enc setComputePipelineState:d.ew];
                  [enc setBytes:&x length:sizeof x atIndex:3];
                  [enc dispatchThreadgroups:MTLSizeMake((NSUInteger)groups, 1, 1)
                      threadsPerThreadgroup:MTLSizeMake(tpg, 1, 1)];
              } else if (pl.kind == STARK_OP_MATMUL) {
                  mt_mm_args x = {pl.m, pl.n, pl.k, pl.lda, pl.ldb, pl.ldc, pl.alpha, pl.beta, pl.trans_a, pl.trans_b};
                  [enc setComputePipelineState:d.matmul];
                  [enc setBytes:&x length:sizeof x atIndex:3];
                  [enc dispatchThreadgroups:MTLSizeMake((NSUInteger)((pl.n + 15) / 16), (NSUInteger)((pl.m + 15) / 16), 1)
                      threadsPerThreadgroup:MTLSizeMake(16, 16, 1)];
              } else {
                  id<MTLComputePipelineState> ps = pl.kind == STARK_OP_SOFTMAX ? d.softmax : d.reduce;
                  mt_rows_args x = {pl.m, pl.n, pl.lda, pl.kind == STARK_OP_SOFTMAX ? pl.ldc : 1, pl.kind, 0};
                  uint64_t groups = pl.m > 65535 ? 65535 : pl.m;
                  [enc setComputePipelineState:ps];
                  [enc setBytes:&x length:sizeof x atIndex:3];
                  [enc dispatchThreadgroups:MTLSizeMake((NSUInteger)groups, 1, 1)
                      threadsPerThreadgroup:MTLSizeMake(mt_pow2_threads(ps), 1, 1)];
              }
            });
        }
        sk_put(&g.tab, so);
    out:
        sk_put(&g.tab, a);
        sk_put(&g.tab, b);
        sk_put(&g.tab, c);
        return st;
    }
}

/* ---- modules (metallib) --------------------------------------------------- */

static int32_t mt_module_load(uint32_t device, uint32_t format, const void *bytes, uint64_t len, uint64_t *out) {
    @autoreleasepool {
        if (out == NULL)
            return sk_fail(STARK_DEV_INVALID, "module_load: NULL out_module");
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        if (format != STARK_MOD_METALLIB) {
            if (format >= STARK_MOD_SPIRV && format <= STARK_MOD_CUBIN)
                return sk_fail(STARK_DEV_UNSUPPORTED, "module_load: metal loads metallib (4) modules, not format %u",
                               format);
            return sk_fail(STARK_DEV_INVALID, "module_load: unknown module format %u", format);
        }
        if (bytes == NULL || len == 0)
            return sk_fail(STARK_DEV_INVALID, "module_load: empty module");
        if (len < 4 || memcmp(bytes, "MTLB", 4) != 0)
            return sk_fail(STARK_DEV_INVALID, "module_load: not a metallib (no MTLB header)");
        dispatch_data_t data = dispatch_data_create(bytes, (size_t)len, NULL, DISPATCH_DATA_DESTRUCTOR_DEFAULT);
        NSError *err = nil;
        id<MTLLibrary> lib = [d.dev newLibraryWithData:data error:&err];
        if (lib == nil)
            return sk_fail(STARK_DEV_INVALID, "metal: module_load: %s",
                           err ? err.localizedDescription.UTF8String : "newLibraryWithData failed");
        STKModule *m = [[STKModule alloc] init];
        m.lib = lib;
        m.pipes = [NSMutableDictionary dictionary];
        return mt_publish(SK_MODULE, device, m, 0, out);
    }
}

static int32_t mt_module_unload(uint32_t device, uint64_t module) {
    @autoreleasepool {
        STKDevice *d;
        int32_t st = mt_enter(device, &d);
        if (st != STARK_DEV_OK)
            return st;
        return sk_remove(&g.tab, module, SK_MODULE, device);
    }
}

/* module_launch: bindings are buffers 0..n-1 (with their offsets), the push
 * bytes are buffer n (setBytes, at most 4 KiB); grid is threadgroups,
 * block threads per threadgroup. */
static int32_t mt_module_launch(const stark_dev_launch *in) {
    @autoreleasepool {
        stark_dev_launch l;
        int32_t st = sk_read_struct(in, sizeof l, &l, sizeof l, "module_launch");
        if (st != STARK_DEV_OK)
            return st;
        STKDevice *d;
        if ((st = mt_enter(l.device, &d)) != STARK_DEV_OK)
            return st;
        if (l.function == NULL || l.function[0] == 0)
            return sk_fail(STARK_DEV_INVALID, "module_launch: no function name");
        if (l.n_bindings > 0 && l.bindings == NULL)
            return sk_fail(STARK_DEV_INVALID, "module_launch: %u bindings but bindings is NULL", l.n_bindings);
        if (l.push_size > 0 && l.push == NULL)
            return sk_fail(STARK_DEV_INVALID, "module_launch: push_size %u but push is NULL", l.push_size);
        if (l.n_bindings > 30 || l.push_size > 4096)
            return sk_fail(STARK_DEV_TOO_LARGE, "module_launch: at most 30 bindings and 4096 push bytes (%u, %u)",
                           l.n_bindings, l.push_size);
        unsigned grid[3], block[3];
        for (int i = 0; i < 3; i++) {
            grid[i] = l.grid[i] ? l.grid[i] : (i ? 1 : 0);
            block[i] = l.block[i] ? l.block[i] : (i ? 1 : 0);
        }
        if (grid[0] == 0 || block[0] == 0)
            return sk_fail(STARK_DEV_INVALID, "module_launch: grid[0] and block[0] must be at least 1 (0 in y and z means 1)");
        sk_obj *mo = sk_get(&g.tab, l.module, SK_MODULE, l.device, &st);
        if (mo == NULL)
            return st;
        STKModule *m = (STKModule *)OBJ(mo);
        sk_obj *bufs[30] = {NULL};
        sk_obj *so = NULL;
        STKStream *s = nil;
        id<MTLComputePipelineState> ps = nil;
        NSString *fname = [NSString stringWithUTF8String:l.function];
        @synchronized(m) {
            ps = m.pipes[fname];
            if (ps == nil) {
                id<MTLFunction> f = [m.lib newFunctionWithName:fname];
                if (f == nil) {
                    st = sk_fail(STARK_DEV_NOT_FOUND, "module_launch: the module has no function \"%s\"", l.function);
                } else {
                    NSError *err = nil;
                    ps = [d.dev newComputePipelineStateWithFunction:f error:&err];
                    if (ps == nil)
                        st = sk_fail(STARK_DEV_INVALID, "module_launch: %s: %s", l.function,
                                     err ? err.localizedDescription.UTF8String : "no pipeline");
                    else
                        m.pipes[fname] = ps;
                }
            }
        }
        if (st != STARK_DEV_OK)
            goto out;
        for (uint32_t i = 0; i < l.n_bindings; i++) {
            if ((bufs[i] = sk_get(&g.tab, l.bindings[i].handle, SK_BUF, l.device, &st)) == NULL)
                goto out;
            if (l.bindings[i].offset > bufs[i]->size) {
                st = sk_fail(STARK_DEV_INVALID, "module_launch: binding %u: offset past the end of the buffer", i);
                goto out;
            }
        }
        if ((uint64_t)block[0] * block[1] * block[2] > ps.maxTotalThreadsPerThreadgroup) {
            st = sk_fail(STARK_DEV_TOO_LARGE, "module_launch: %u threads per threadgroup, the pipeline takes %lu",
                         block[0] * block[1] * block[2], (unsigned long)ps.maxTotalThreadsPerThreadgroup);
            goto out;
        }
        if ((st = mt_stream(l.device, l.stream, &so, &s)) != STARK_DEV_OK)
            goto out;
        {
            /* blocks capture scalars and pointers, not arrays */
            const stark_dev_launch lc = l;
            sk_obj *const *bs = bufs;
            const MTLSize groups = MTLSizeMake(grid[0], grid[1], grid[2]);
            const MTLSize threads = MTLSizeMake(block[0], block[1], block[2]);
            st = mt_submit(d, s, "module_launch", ^(id<MTLComputeCommandEncoder> enc) {
              [enc setComputePipelineState:ps];
              for (uint32_t i = 0; i < lc.n_bindings; i++)
                  [enc setBuffer:(id<MTLBuffer>)OBJ(bs[i]) offset:(NSUInteger)lc.bindings[i].offset atIndex:i];
              if (lc.push_size > 0)
                  [enc setBytes:lc.push length:lc.push_size atIndex:lc.n_bindings];
              [enc dispatchThreadgroups:groups threadsPerThreadgroup:threads];
            });
        }
    out:
        sk_put(&g.tab, so);
        for (uint32_t i = 0; i < l.n_bindings && i < 30; i++)
            sk_put(&g.tab, bufs[i]);
        sk_put(&g.tab, mo);
        return st;
    }
}

/* ---- init and shutdown ---------------------------------------------------- */

static id<MTLComputePipelineState> mt_pipe(id<MTLDevice> dev, id<MTLLibrary> lib, NSString *name, NSString **why) {
    id<MTLFunction> f = [lib newFunctionWithName:name];
    if (f == nil) {
        *why = [NSString stringWithFormat:@"the kernel source has no %@", name];
        return nil;
    }
    NSError *err = nil;
    id<MTLComputePipelineState> ps = [dev newComputePipelineStateWithFunction:f error:&err];
    if (ps == nil)
        *why = [NSString stringWithFormat:@"%@: %@", name, err ? err.localizedDescription : @"no pipeline"];
    return ps;
}

static void mt_build(STKDevice *d) {
    MTLCompileOptions *opts = [[MTLCompileOptions alloc] init];
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
    opts.fastMathEnabled = NO; /* IEEE results for exp, division, NaN */
#pragma clang diagnostic pop
    NSError *err = nil;
    id<MTLLibrary> lib = [d.dev newLibraryWithSource:[NSString stringWithUTF8String:mt_source] options:opts error:&err];
    if (lib == nil) {
        d.kerr = [NSString stringWithFormat:@"the kernels do not compile: %@",
                                            err ? err.localizedDescription : @"newLibraryWithSource failed"];
        return;
    }
    NSString *why = nil;
    id<MTLComputePipelineState> ew = mt_pipe(d.dev, lib, @"stark_ew", &why);
    id<MTLComputePipelineState> red = ew ? mt_pipe(d.dev, lib, @"stark_reduce", &why) : nil;
    id<MTLComputePipelineState> sm = red ? mt_pipe(d.dev, lib, @"stark_softmax", &why) : nil;
    id<MTLComputePipelineState> mm = sm ? mt_pipe(d.dev, lib, @"stark_matmul", &why) : nil;
    if (mm == nil) {
        d.kerr = why;
        return;
    }
    d.reduce = red;
    d.softmax = sm;
    d.matmul = mm;
    d.ew = ew; /* last: a non-nil ew means every kernel is there */
}

static int32_t mt_init(const stark_dev_init *opts) {
    @autoreleasepool {
        if (atomic_load(&g.up))
            return STARK_DEV_OK;
        const char *options = NULL;
        if (opts != NULL) {
            stark_dev_init in;
            int32_t st = sk_read_struct(opts, sizeof in, &in, sizeof in, "init");
            if (st != STARK_DEV_OK)
                return st;
            options = in.options;
        }
        if (options == NULL || options[0] == 0)
            options = getenv("STARK_METAL_OPTIONS");
        static const char *const known[] = {"verbose", NULL};
        int32_t st = sk_opts_check(options, known, "metal");
        if (st != STARK_DEV_OK)
            return st;
        char v[16];
        g.verbose = sk_opt(options, "verbose", v, sizeof v) && strcmp(v, "0") != 0;
        NSArray<id<MTLDevice>> *all = MTLCopyAllDevices();
        if (all.count == 0)
            return sk_fail(STARK_DEV_NOT_FOUND, "metal: no Metal device (MTLCopyAllDevices is empty)");
        NSMutableArray<STKDevice *> *devs = [NSMutableArray array];
        for (id<MTLDevice> dev in all) {
            STKDevice *d = [[STKDevice alloc] init];
            d.dev = dev;
            d.index = (uint32_t)devs.count;
            d.queue = [dev newCommandQueue];
            if (d.queue == nil)
                continue;
            mt_build(d);
            if (g.verbose)
                fprintf(stderr, "stark metal: device %u: %s: %s\n", d.index, dev.name.UTF8String,
                        d.ew ? "kernels compiled" : d.kerr.UTF8String);
            [devs addObject:d];
        }
        if (devs.count == 0)
            return sk_fail(STARK_DEV_NOT_FOUND, "metal: no usable Metal device (no command queue)");
        g_devs = [devs copy];
        atomic_store(&g.up, 1);
        return STARK_DEV_OK;
    }
}

static int32_t mt_shutdown(void) {
    @autoreleasepool {
        if (!atomic_load(&g.up))
            return STARK_DEV_OK;
        for (uint32_t i = 0; i < g_devs.count; i++)
            mt_synchronize(i);
        atomic_store(&g.up, 0);
        sk_drain(&g.tab, UINT32_MAX);
        g_devs = nil;
        return STARK_DEV_OK;
    }
}

/* ---- exports -------------------------------------------------------------- */

static const stark_device_api mt_api = {
    .struct_size = sizeof(stark_device_api),
    .abi_version = STARK_DEVICE_ABI_VERSION,
    .name = "metal",
    .caps = STARK_DEV_CAP_ASYNC | STARK_DEV_CAP_EVENTS | STARK_DEV_CAP_UNIFIED | STARK_DEV_CAP_METALLIB,
    .init = mt_init,
    .shutdown = mt_shutdown,
    .last_error = mt_last_error,
    .device_count = mt_device_count,
    .device_info = mt_device_info,
    .mem_alloc = mt_mem_alloc,
    .mem_free = mt_mem_free,
    .memcpy = mt_memcpy,
    .stream_create = mt_stream_create,
    .stream_destroy = mt_stream_destroy,
    .stream_sync = mt_stream_sync,
    .event_record = mt_event_record,
    .event_sync = mt_event_sync,
    .event_destroy = mt_event_destroy,
    .synchronize = mt_synchronize,
    .op_supported = mt_op_supported,
    .launch_op = mt_launch_op,
    .module_load = mt_module_load,
    .module_unload = mt_module_unload,
    .module_launch = mt_module_launch,
};

/* 100 for a discrete GPU (an AMD card, an eGPU), 50 for an integrated one
 * (Apple silicon, Intel), 0 without Metal. */
SK_EXPORT uint32_t stark_device_score(void) {
    @autoreleasepool {
        uint32_t best = 0;
        NSArray<id<MTLDevice>> *all = MTLCopyAllDevices();
        for (id<MTLDevice> dev in all) {
            uint32_t s = (dev.hasUnifiedMemory || dev.isLowPower) && !dev.isRemovable ? 50 : 100;
            if (s > best)
                best = s;
        }
        return best;
    }
}

SK_EXPORT const stark_device_api *stark_device_query(uint32_t host_abi_version) {
    return host_abi_version == STARK_DEVICE_ABI_VERSION ? &mt_api : NULL;
}
