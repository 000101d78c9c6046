/*
 * mockgpu.cc - CPU stand-ins for the GPU libraries STARK's plugins open at
 * run time, for testing the plugins on machines without a GPU:
 *
 *   -DMOCK_CUDA    libcuda.so.1     (the CUDA driver API the cuda plugin uses)
 *   -DMOCK_NVRTC   libnvrtc.so      (NVRTC)
 *   -DMOCK_HIP     libamdhip64.so   (the HIP API the rocm plugin uses)
 *   -DMOCK_HIPRTC  libhiprtc.so     (hiprtc)
 *
 * Device memory is host memory; every allocation is tracked, and copies
 * outside an allocation abort (a plugin bug). Kernels are the real
 * plugins/cuda/kernels.cu, compiled here for the CPU (SK_EMU) and run by a
 * small emulator: each block's threads are fibers (ucontext) on the calling
 * thread, __syncthreads and warp shuffles are barriers between them, and a
 * barrier that cannot complete (divergence) or threads meeting at different
 * __syncthreads aborts with a message. Warps are 32 threads for CUDA and 64
 * for HIP (like AMD's wave64). Launches are serialised; streams run their
 * work at once (a valid, if synchronous, stream).
 *
 * The "compilers" check that they are given kernels.cu unchanged and return
 * a marker image that the mock driver maps to the emulated kernels; the
 * driver also accepts the plugin's fallback PTX (kernels_sm52.ptx) and a
 * PTX or CUBIN naming stark_test_scale / stark_test_fault (the exerciser's
 * module tests: the fault kernel poisons the context like an illegal
 * address). Environment: MOCK_GPU_REJECT_CUBIN=1 refuses the compilers'
 * CUBINs (the plugin must fall back to PTX); MOCK_GPU_LOG=1 traces calls.
 */
#undef _FORTIFY_SOURCE /* longjmp between fiber stacks */
#include <assert.h>
#include <math.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <map>
#include <string>
#include <vector>

#define MOCK_EXPORT extern "C" __attribute__((visibility("default")))

[[noreturn]] __attribute__((unused)) static void mock_bug(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nMOCK GPU: plugin bug: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    abort();
}

__attribute__((unused)) static int mock_log_on() {
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("MOCK_GPU_LOG");
        on = e && *e && strcmp(e, "0") != 0;
    }
    return on;
}
#define MLOG(...)                                                                                                      \
    do {                                                                                                               \
        if (mock_log_on())                                                                                             \
            fprintf(stderr, "mock: " __VA_ARGS__);                                                                     \
    } while (0)

/* kernels.cu's text, to check what the "compilers" are given */
__asm__(".section .rodata\n.balign 16\n.globl mock_kernels_src\n.hidden mock_kernels_src\nmock_kernels_src:\n"
        ".incbin \"plugins/cuda/kernels.cu\"\n.byte 0\n.previous\n");
extern "C" const char mock_kernels_src[];

#define MOCK_IMAGE "// STARK-MOCK-IMAGE"

/* ======================================================================= */
#if defined(MOCK_CUDA) || defined(MOCK_HIP)

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define MOCK_ASAN 1
#else
#define MOCK_ASAN 0
#endif

/* ---- the emulator ------------------------------------------------------ */

#if defined(MOCK_HIP)
static const unsigned emu_warp = 64;
#else
static const unsigned emu_warp = 32;
#endif

enum { F_RUN, F_BAR, F_WARP, F_DONE };

/* A fiber starts with makecontext/swapcontext; after that every switch is
 * _setjmp/_longjmp, which (unlike swapcontext) makes no system call. */
struct Fiber {
    ucontext_t ctx;
    jmp_buf jb;
    char *stack;
    int state;
    int started;
    int site;   /* the __syncthreads it waits at (source line) */
    void *fake; /* ASan's fake stack while switched out */
};

static const size_t emu_stack = 64 << 10; /* small: ASan clears a stack's shadow on each longjmp */
static Fiber emu_f[1024];
static jmp_buf emu_main_jb;
static ucontext_t emu_main_uc;
static unsigned emu_tid, emu_bid, emu_bdim, emu_gdim;
static unsigned long long emu_slot[2][1024]; /* shuffles alternate between two sets of slots */
static unsigned char emu_phase[1024];
static void (*emu_fn)(const void *);
static const void *emu_args;
static const char *emu_name;
static const void *emu_main_bottom;
static size_t emu_main_size;
static pthread_mutex_t emu_mu = PTHREAD_MUTEX_INITIALIZER;

/* emu_yield switches from fiber f back to the scheduler (for good when dying) */
static void emu_yield(Fiber *f, int dying) {
#if MOCK_ASAN
    __sanitizer_start_switch_fiber(dying ? NULL : &f->fake, emu_main_bottom, emu_main_size);
#endif
    if (dying || _setjmp(f->jb) == 0)
        _longjmp(emu_main_jb, 1);
#if MOCK_ASAN
    __sanitizer_finish_switch_fiber(f->fake, &emu_main_bottom, &emu_main_size);
#endif
}

static void emu_entry() {
    Fiber *f = &emu_f[emu_tid];
#if MOCK_ASAN
    __sanitizer_finish_switch_fiber(NULL, &emu_main_bottom, &emu_main_size);
#endif
    emu_fn(emu_args);
    f->state = F_DONE;
    emu_yield(f, 1);
}

static void emu_block_wait(int site) {
    Fiber *f = &emu_f[emu_tid];
    f->state = F_BAR;
    f->site = site;
    emu_yield(f, 0);
}

static void emu_warp_wait() {
    Fiber *f = &emu_f[emu_tid];
    f->state = F_WARP;
    emu_yield(f, 0);
}

static void emu_sync(int line) { emu_block_wait(line); }

template <typename T> static T emu_shfl_xor(T v, int o) {
    if (emu_bdim % emu_warp != 0)
        mock_bug("%s: a shuffle in a block of %u threads (not whole warps of %u)", emu_name, emu_bdim, emu_warp);
    if (o <= 0 || (unsigned)o >= emu_warp)
        mock_bug("%s: shuffle xor lane mask %d outside the warp of %u", emu_name, o, emu_warp);
    unsigned tid = emu_tid, ph = emu_phase[tid];
    emu_phase[tid] ^= 1;
    unsigned long long bits = 0;
    memcpy(&bits, &v, sizeof v);
    emu_slot[ph][tid] = bits;
    emu_warp_wait(); /* one barrier: a lane can be one shuffle ahead, in the other set of slots */
    unsigned src = (tid & ~(emu_warp - 1)) | ((tid & (emu_warp - 1)) ^ (unsigned)o);
    if (emu_f[src].state == F_DONE)
        mock_bug("%s: shuffle from lane %u, which has exited", emu_name, src);
    T r;
    bits = emu_slot[ph][src];
    memcpy(&r, &bits, sizeof r);
    return r;
}

static void emu_run_block(unsigned bid) {
    for (unsigned t = 0; t < emu_bdim; t++) {
        Fiber *f = &emu_f[t];
        if (f->stack == NULL) {
            f->stack = (char *)mmap(NULL, emu_stack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                                    -1, 0);
            if (f->stack == MAP_FAILED)
                mock_bug("mmap of a fiber stack failed");
        }
        getcontext(&f->ctx);
        f->ctx.uc_stack.ss_sp = f->stack;
        f->ctx.uc_stack.ss_size = emu_stack;
        f->ctx.uc_link = NULL; /* fibers never return: they jump back */
        makecontext(&f->ctx, emu_entry, 0);
        f->state = F_RUN;
        f->started = 0;
        emu_phase[t] = 0;
    }
    emu_bid = bid;
    for (;;) {
        int ran = 0;
        for (unsigned t = 0; t < emu_bdim; t++) {
            Fiber *f = &emu_f[t];
            if (f->state != F_RUN)
                continue;
            emu_tid = t;
            ran = 1;
#if MOCK_ASAN
            void *fake = NULL;
            __sanitizer_start_switch_fiber(&fake, f->stack, emu_stack);
#endif
            if (_setjmp(emu_main_jb) == 0) {
                if (!f->started) {
                    f->started = 1;
                    swapcontext(&emu_main_uc, &f->ctx);
                } else {
                    _longjmp(f->jb, 1);
                }
            }
#if MOCK_ASAN
            __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
        }
        if (ran)
            continue;
        unsigned done = 0, bar = 0;
        int site = -1, mixed = 0;
        for (unsigned t = 0; t < emu_bdim; t++) {
            if (emu_f[t].state == F_DONE)
                done++;
            if (emu_f[t].state == F_BAR) {
                bar++;
                if (site >= 0 && emu_f[t].site != site)
                    mixed = 1;
                site = emu_f[t].site;
            }
        }
        if (done == emu_bdim)
            return;
        /* warps whose live threads all wait at a shuffle go on */
        int released = 0;
        for (unsigned w = 0; w < emu_bdim; w += emu_warp) {
            unsigned waiting = 0, live = 0;
            for (unsigned t = w; t < w + emu_warp && t < emu_bdim; t++) {
                if (emu_f[t].state != F_DONE)
                    live++;
                if (emu_f[t].state == F_WARP)
                    waiting++;
            }
            if (waiting > 0 && waiting == live) {
                for (unsigned t = w; t < w + emu_warp && t < emu_bdim; t++)
                    if (emu_f[t].state == F_WARP)
                        emu_f[t].state = F_RUN;
                released = 1;
            }
        }
        if (released)
            continue;
        if (bar > 0 && bar + done == emu_bdim) {
            if (mixed)
                mock_bug("%s: block %u: threads wait at different __syncthreads (lines differ)", emu_name, bid);
            for (unsigned t = 0; t < emu_bdim; t++)
                if (emu_f[t].state == F_BAR)
                    emu_f[t].state = F_RUN;
            continue;
        }
        mock_bug("%s: block %u deadlocks: %u threads at __syncthreads, %u done, the rest at a shuffle with part of "
                 "their warp elsewhere",
                 emu_name, bid, bar, done);
    }
}

static void emu_launch(const char *name, void (*fn)(const void *), const void *args, unsigned grid, unsigned block) {
    if (block == 0 || block > 1024 || grid == 0)
        mock_bug("%s: launch of %u blocks of %u threads", name, grid, block);
    pthread_mutex_lock(&emu_mu);
    emu_fn = fn;
    emu_args = args;
    emu_name = name;
    emu_bdim = block;
    emu_gdim = grid;
    for (unsigned b = 0; b < grid; b++)
        emu_run_block(b);
    pthread_mutex_unlock(&emu_mu);
}

/* ---- kernels.cu for the emulator --------------------------------------- */

struct sk_f4 {
    float x, y, z, w;
} __attribute__((aligned(16)));
static inline sk_f4 sk_make_f4(float x, float y, float z, float w) { return sk_f4{x, y, z, w}; }

#define SK_EMU 1
#define __shared__ static
#define SK_DEV static inline
#define SK_TID (emu_tid)
#define SK_BID ((unsigned long long)emu_bid)
#define SK_BDIM (emu_bdim)
#define SK_GDIM ((unsigned long long)emu_gdim)
#define SK_SYNC() emu_sync(__LINE__)
#define SK_WARP ((int)emu_warp)
#define SK_SHFL_XOR(v, o) emu_shfl_xor((v), (o))
#define SK_EXPF(x) expf(x)
#define SK_ALIGN16 __attribute__((aligned(16)))
static inline float emu_atomic_addf(float *p, float v) {
    float o = *p;
    *p = o + v;
    return o;
}
static inline int emu_atomic_maxi(int *p, int v) {
    int o = *p;
    if (v > o)
        *p = v;
    return o;
}
static inline unsigned emu_atomic_minu(unsigned *p, unsigned v) {
    unsigned o = *p;
    if (v < o)
        *p = v;
    return o;
}
#define SK_ATOMIC_ADDF(p, v) emu_atomic_addf((p), (v))
#define SK_ATOMIC_MAXI(p, v) emu_atomic_maxi((p), (v))
#define SK_ATOMIC_MINU(p, v) emu_atomic_minu((p), (v))
static inline float emu_i2f(int i) {
    float f;
    memcpy(&f, &i, 4);
    return f;
}
static inline int emu_f2i(float f) {
    int i;
    memcpy(&i, &f, 4);
    return i;
}
#define SK_I2F(i) emu_i2f(i)
#define SK_F2I(f) emu_f2i(f)
#define SK_F2U(f) ((unsigned)emu_f2i(f))

struct EmuKernel {
    const char *name;
    void (*fn)(const void *);
    size_t args;
};
static std::vector<EmuKernel> &emu_kernels() {
    static std::vector<EmuKernel> k;
    return k;
}
struct EmuReg {
    EmuReg(const char *name, void (*fn)(const void *), size_t args) { emu_kernels().push_back({name, fn, args}); }
};

#define SK_KERNEL(name, T, minblocks)                                                                                  \
    static void name##_body(const T p);                                                                                \
    static void name##_thunk(const void *a) { name##_body(*(const T *)a); }                                            \
    static EmuReg name##_reg(#name, name##_thunk, sizeof(T));                                                          \
    static void name##_body(const T p)

#include "kernels.cu"

/* test kernels of the exerciser's module (see plugins/cuda/exercise.c) */
struct TestScaleArgs {
    float *p;
    unsigned n;
    float alpha;
};
static void test_scale(const void *a) {
    const TestScaleArgs *x = (const TestScaleArgs *)a;
    unsigned i = emu_bid * emu_bdim + emu_tid;
    if (i < x->n)
        x->p[i] *= x->alpha;
}

/* ---- the device ---------------------------------------------------------- */

static const unsigned long long mock_total = 4ull << 30;

struct Module {
    int builtin; /* 1: kernels.cu; 0: the test module */
};
struct Function {
    const char *name;
    void (*fn)(const void *);
    size_t args; /* the struct size of a built-in kernel; 0: test kernel */
};

static pthread_mutex_t mock_mu = PTHREAD_MUTEX_INITIALIZER;
static std::map<uintptr_t, size_t> mock_allocs;
static unsigned long long mock_used;
static int mock_sticky;     /* a poisoned context's error, returned by everything */
__attribute__((unused)) static int mock_ctx_refs;
static std::vector<Module *> mock_modules;
static std::vector<Function *> mock_functions;

static void mock_check_range(const char *what, uintptr_t p, size_t n) {
    pthread_mutex_lock(&mock_mu);
    auto it = mock_allocs.upper_bound(p);
    int ok = 0;
    if (it != mock_allocs.begin()) {
        --it;
        ok = p >= it->first && p - it->first <= it->second && n <= it->second - (p - it->first);
    }
    pthread_mutex_unlock(&mock_mu);
    if (!ok)
        mock_bug("%s: %zu bytes at %#lx are not inside one allocation", what, n, (unsigned long)p);
}

static int mock_alloc(void **out, size_t bytes) {
    pthread_mutex_lock(&mock_mu);
    if (bytes == 0 || bytes > mock_total || mock_used + bytes > mock_total) {
        pthread_mutex_unlock(&mock_mu);
        return 2; /* out of memory */
    }
    mock_used += bytes;
    pthread_mutex_unlock(&mock_mu);
    /* 256-byte aligned, like the drivers */
    void *p = aligned_alloc(256, (bytes + 255) & ~(size_t)255);
    if (p == NULL) {
        pthread_mutex_lock(&mock_mu);
        mock_used -= bytes;
        pthread_mutex_unlock(&mock_mu);
        return 2;
    }
    memset(p, 0xcd, bytes); /* not zero: an op that skips elements is caught */
    pthread_mutex_lock(&mock_mu);
    mock_allocs[(uintptr_t)p] = bytes;
    pthread_mutex_unlock(&mock_mu);
    *out = p;
    return 0;
}

static int mock_free(void *p) {
    pthread_mutex_lock(&mock_mu);
    auto it = mock_allocs.find((uintptr_t)p);
    if (it == mock_allocs.end()) {
        pthread_mutex_unlock(&mock_mu);
        mock_bug("free of %p, which is not an allocation", p);
    }
    mock_used -= it->second;
    mock_allocs.erase(it);
    pthread_mutex_unlock(&mock_mu);
    free(p);
    return 0;
}

/* mock_load maps an image to a module: 1 builtin, 0 test, -1 invalid, -2 rejected cubin */
static int mock_load_kind(const char *img) {
    if (strncmp(img, MOCK_IMAGE, strlen(MOCK_IMAGE)) == 0) {
        const char *rej = getenv("MOCK_GPU_REJECT_CUBIN");
        if (rej && *rej && strcmp(rej, "0") != 0 && strstr(img, " cubin") != NULL)
            return -2;
        return 1;
    }
    if (strstr(img, ".target sm_52") && strstr(img, ".entry stark_sgemm_nn(") && strstr(img, ".entry stark_softmax("))
        return 1; /* the plugin's fallback PTX */
    if ((unsigned char)img[0] == 0x7f && memcmp(img, "\x7f" "ELF", 4) == 0)
        return 0; /* any ELF: the exerciser's CUBIN stand-in */
    if (strstr(img, ".entry stark_test_scale(") || strstr(img, ".entry stark_test_fault("))
        return 0;
    return -1;
}

static Function *mock_function(Module *m, const char *name) {
    Function *f = NULL;
    if (m->builtin) {
        for (auto &k : emu_kernels())
            if (strcmp(k.name, name) == 0)
                f = new Function{k.name, k.fn, k.args};
    } else if (strcmp(name, "stark_test_scale") == 0) {
        f = new Function{"stark_test_scale", test_scale, 0};
    } else if (strcmp(name, "stark_test_fault") == 0) {
        f = new Function{"stark_test_fault", NULL, 0};
    }
    if (f != NULL) {
        pthread_mutex_lock(&mock_mu);
        mock_functions.push_back(f);
        pthread_mutex_unlock(&mock_mu);
    }
    return f;
}

/* mock_run runs a launch. params: kernelParams (one struct for the
 * built-ins); buf/size: the extra[] parameter buffer. Returns a sticky
 * error code for the fault kernel, else 0. */
static int mock_run(Function *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                    void **params, const void *buf, size_t size) {
    if (gy != 1 || gz != 1 || by != 1 || bz != 1)
        mock_bug("%s: the emulator runs 1-D launches only (%ux%ux%u blocks of %ux%ux%u)", f->name, gx, gy, gz, bx, by,
                 bz);
    if (f->fn == NULL)
        return 700; /* stark_test_fault: an illegal address */
    const void *args = NULL;
    if (f->args > 0) {
        if (params != NULL)
            args = params[0];
        else if (buf != NULL && size == f->args)
            args = buf;
        else
            mock_bug("%s: built-in kernel launched without its %zu-byte argument struct (params %p, buffer of %zu)",
                     f->name, f->args, (void *)params, size);
    } else {
        if (buf == NULL || size != sizeof(TestScaleArgs))
            mock_bug("%s: test kernel launched with a %zu-byte parameter buffer, want %zu", f->name, size,
                     sizeof(TestScaleArgs));
        args = buf;
        const TestScaleArgs *x = (const TestScaleArgs *)buf;
        mock_check_range("stark_test_scale's binding", (uintptr_t)x->p, 0);
    }
    if (bx != 256 && f->args > 0)
        mock_bug("%s: built-in kernels run with 256 threads (launched with %u)", f->name, bx);
    MLOG("launch %s %u x %u\n", f->name, gx, bx);
    emu_launch(f->name, f->fn, args, gx, bx);
    return 0;
}

#endif /* MOCK_CUDA || MOCK_HIP */

/* ======================================================================= */
#if defined(MOCK_CUDA)

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

static int cu_inited;
#define STICKY()                                                                                                       \
    do {                                                                                                               \
        if (!cu_inited)                                                                                                \
            return 3;                                                                                                  \
        if (mock_sticky)                                                                                               \
            return mock_sticky;                                                                                        \
    } while (0)

static __thread void *cu_current;
static int cu_ctx_token;

MOCK_EXPORT CUresult cuInit(unsigned flags) {
    if (flags != 0)
        return 1;
    cu_inited = 1;
    return 0;
}
MOCK_EXPORT CUresult cuDriverGetVersion(int *v) {
    *v = 12040;
    return 0;
}
MOCK_EXPORT CUresult cuDeviceGetCount(int *n) {
    if (!cu_inited)
        return 3;
    *n = 1;
    return 0;
}
MOCK_EXPORT CUresult cuDeviceGet(int *d, int i) {
    if (i != 0)
        return 101;
    *d = 0;
    return 0;
}
MOCK_EXPORT CUresult cuDeviceGetName(char *name, int len, int dev) {
    if (dev != 0)
        return 101;
    snprintf(name, (size_t)len, "STARK mock GPU (CPU emulation)");
    return 0;
}
MOCK_EXPORT CUresult cuDeviceTotalMem_v2(size_t *b, int dev) {
    if (dev != 0)
        return 101;
    *b = mock_total;
    return 0;
}
MOCK_EXPORT CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
    if (dev != 0)
        return 101;
    switch (attr) {
    case 16: /* SMs */
        *v = 4;
        return 0;
    case 18: /* integrated */
        *v = 0;
        return 0;
    case 75:
        *v = 8;
        return 0;
    case 76:
        *v = 0;
        return 0;
    case 8:
        *v = 48 << 10;
        return 0;
    }
    return 1;
}
MOCK_EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) {
    if (dev != 0)
        return 101;
    pthread_mutex_lock(&mock_mu);
    mock_ctx_refs++;
    pthread_mutex_unlock(&mock_mu);
    *ctx = &cu_ctx_token;
    return 0;
}
MOCK_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int dev) {
    if (dev != 0)
        return 101;
    pthread_mutex_lock(&mock_mu);
    int last = --mock_ctx_refs == 0;
    size_t leaked = mock_allocs.size();
    if (last)
        mock_sticky = 0; /* the context is destroyed: a new one starts clean */
    pthread_mutex_unlock(&mock_mu);
    if (last && leaked && !mock_sticky)
        fprintf(stderr, "mock: note: %zu allocations alive when the context was released\n", leaked);
    return 0;
}
MOCK_EXPORT CUresult cuCtxSetCurrent(void *ctx) {
    if (ctx != NULL && ctx != &cu_ctx_token)
        return 201;
    cu_current = ctx;
    return 0;
}
static CUresult need_ctx() {
    if (cu_current == NULL)
        mock_bug("a CUDA call without a current context");
    return 0;
}
MOCK_EXPORT CUresult cuCtxSynchronize(void) {
    STICKY();
    return need_ctx();
}
MOCK_EXPORT CUresult cuMemGetInfo_v2(size_t *fr, size_t *tot) {
    STICKY();
    need_ctx();
    pthread_mutex_lock(&mock_mu);
    *fr = mock_total - mock_used;
    *tot = mock_total;
    pthread_mutex_unlock(&mock_mu);
    return 0;
}
MOCK_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
    STICKY();
    need_ctx();
    void *q;
    if (mock_alloc(&q, bytes))
        return 2;
    *p = (CUdeviceptr)(uintptr_t)q;
    return 0;
}
MOCK_EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
    need_ctx();
    mock_free((void *)(uintptr_t)p);
    return mock_sticky;
}
MOCK_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *s) {
    (void)s;
    STICKY();
    need_ctx();
    mock_check_range("cuMemcpyHtoD destination", (uintptr_t)dst, n);
    memcpy((void *)(uintptr_t)dst, src, n);
    return 0;
}
MOCK_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *s) {
    (void)s;
    STICKY();
    need_ctx();
    mock_check_range("cuMemcpyDtoH source", (uintptr_t)src, n);
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return 0;
}
MOCK_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *s) {
    (void)s;
    STICKY();
    need_ctx();
    mock_check_range("cuMemcpyDtoD destination", (uintptr_t)dst, n);
    mock_check_range("cuMemcpyDtoD source", (uintptr_t)src, n);
    if ((dst < src && dst + n > src) || (src < dst && src + n > dst))
        mock_bug("cuMemcpyDtoD with overlapping ranges");
    memcpy((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
    return 0;
}
struct MockStream {
    int magic;
};
MOCK_EXPORT CUresult cuStreamCreate(void **s, unsigned flags) {
    (void)flags;
    STICKY();
    need_ctx();
    *s = new MockStream{0x57};
    return 0;
}
static void check_stream(void *s) {
    if (s == NULL || s == (void *)1 || s == (void *)2)
        return;
    if (((MockStream *)s)->magic != 0x57)
        mock_bug("a stream that is not one (%p)", s);
}
MOCK_EXPORT CUresult cuStreamDestroy_v2(void *s) {
    check_stream(s);
    if (s == NULL || s == (void *)1 || s == (void *)2)
        mock_bug("destroy of a special stream");
    ((MockStream *)s)->magic = 0;
    delete (MockStream *)s;
    return 0;
}
MOCK_EXPORT CUresult cuStreamSynchronize(void *s) {
    STICKY();
    need_ctx();
    check_stream(s);
    return 0;
}
struct MockEvent {
    int magic;
};
MOCK_EXPORT CUresult cuEventCreate(void **e, unsigned flags) {
    (void)flags;
    STICKY();
    need_ctx();
    *e = new MockEvent{0xe7};
    return 0;
}
MOCK_EXPORT CUresult cuEventRecord(void *e, void *s) {
    STICKY();
    check_stream(s);
    if (((MockEvent *)e)->magic != 0xe7)
        mock_bug("record of a bad event");
    return 0;
}
MOCK_EXPORT CUresult cuEventSynchronize(void *e) {
    STICKY();
    if (((MockEvent *)e)->magic != 0xe7)
        mock_bug("sync of a bad event");
    return 0;
}
MOCK_EXPORT CUresult cuEventDestroy_v2(void *e) {
    if (((MockEvent *)e)->magic != 0xe7)
        mock_bug("destroy of a bad event");
    ((MockEvent *)e)->magic = 0;
    delete (MockEvent *)e;
    return 0;
}
MOCK_EXPORT CUresult cuModuleLoadDataEx(void **mod, const void *image, unsigned n, int *opts, void **vals) {
    STICKY();
    need_ctx();
    char *log = NULL;
    size_t cap = 0;
    for (unsigned i = 0; i < n; i++) {
        if (opts[i] == 5)
            log = (char *)vals[i];
        if (opts[i] == 6)
            cap = (size_t)(uintptr_t)vals[i];
    }
    int kind = mock_load_kind((const char *)image);
    if (kind < 0) {
        if (log && cap)
            snprintf(log, cap, "mock: %s", kind == -2 ? "CUBIN refused (MOCK_GPU_REJECT_CUBIN)" : "not a module the mock knows");
        return kind == -2 ? 209 : 218;
    }
    Module *m = new Module{kind};
    pthread_mutex_lock(&mock_mu);
    mock_modules.push_back(m);
    pthread_mutex_unlock(&mock_mu);
    *mod = m;
    return 0;
}
MOCK_EXPORT CUresult cuModuleUnload(void *mod) {
    need_ctx();
    pthread_mutex_lock(&mock_mu);
    int found = 0;
    for (auto &m : mock_modules)
        if (m == mod) {
            m = NULL;
            found = 1;
        }
    pthread_mutex_unlock(&mock_mu);
    if (!found)
        mock_bug("unload of a module that is not loaded");
    delete (Module *)mod;
    return mock_sticky;
}
MOCK_EXPORT CUresult cuModuleGetFunction(void **fn, void *mod, const char *name) {
    STICKY();
    Function *f = mock_function((Module *)mod, name);
    if (f == NULL)
        return 500;
    *fn = f;
    return 0;
}
MOCK_EXPORT CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                    unsigned bz, unsigned shmem, void *s, void **params, void **extra) {
    STICKY();
    need_ctx();
    check_stream(s);
    if (shmem != 0)
        mock_bug("dynamic shared memory");
    const void *buf = NULL;
    size_t size = 0;
    if (extra != NULL) {
        for (int i = 0; extra[i] != NULL; i += 2) {
            if (extra[i] == (void *)1)
                buf = extra[i + 1];
            else if (extra[i] == (void *)2)
                size = *(size_t *)extra[i + 1];
            else
                mock_bug("extra[%d] = %p", i, extra[i]);
        }
    }
    int r = mock_run((Function *)fn, gx, gy, gz, bx, by, bz, params, buf, size);
    if (r)
        mock_sticky = r; /* reported from the next call on, like an asynchronous fault */
    return 0;
}
MOCK_EXPORT CUresult cuGetErrorName(CUresult r, const char **s) {
    switch (r) {
    case 0:
        *s = "CUDA_SUCCESS";
        return 0;
    case 1:
        *s = "CUDA_ERROR_INVALID_VALUE";
        return 0;
    case 2:
        *s = "CUDA_ERROR_OUT_OF_MEMORY";
        return 0;
    case 209:
        *s = "CUDA_ERROR_NO_BINARY_FOR_GPU";
        return 0;
    case 218:
        *s = "CUDA_ERROR_INVALID_PTX";
        return 0;
    case 500:
        *s = "CUDA_ERROR_NOT_FOUND";
        return 0;
    case 700:
        *s = "CUDA_ERROR_ILLEGAL_ADDRESS";
        return 0;
    }
    *s = "CUDA_ERROR_MOCK";
    return 0;
}
MOCK_EXPORT CUresult cuGetErrorString(CUresult r, const char **s) {
    *s = r == 700 ? "an illegal memory access was encountered (mock)" : "mock error";
    return 0;
}

#endif /* MOCK_CUDA */

/* ======================================================================= */
#if defined(MOCK_HIP)

typedef int hipError_t;

static int hip_inited;
static __thread int hip_dev = -1;
#define HSTICKY()                                                                                                      \
    do {                                                                                                               \
        if (!hip_inited)                                                                                               \
            return 3;                                                                                                  \
        if (mock_sticky)                                                                                               \
            return mock_sticky;                                                                                        \
    } while (0)
static void need_dev() {
    if (hip_dev != 0)
        mock_bug("a HIP call before hipSetDevice");
}

MOCK_EXPORT hipError_t hipInit(unsigned flags) {
    if (flags != 0)
        return 1;
    hip_inited = 1;
    return 0;
}
MOCK_EXPORT hipError_t hipDriverGetVersion(int *v) {
    *v = 60140000;
    return 0;
}
MOCK_EXPORT hipError_t hipRuntimeGetVersion(int *v) {
    *v = 60140000;
    return 0;
}
MOCK_EXPORT hipError_t hipGetDeviceCount(int *n) {
    if (!hip_inited)
        return 3;
    *n = 1;
    return 0;
}
MOCK_EXPORT hipError_t hipDeviceGet(int *d, int i) {
    if (i != 0)
        return 101;
    *d = 0;
    return 0;
}
MOCK_EXPORT hipError_t hipSetDevice(int d) {
    if (d != 0)
        return 101;
    hip_dev = d;
    return 0;
}
MOCK_EXPORT hipError_t hipDeviceGetName(char *name, int len, int dev) {
    if (dev != 0)
        return 101;
    snprintf(name, (size_t)len, "STARK mock GPU (CPU emulation, wave64)");
    return 0;
}
MOCK_EXPORT hipError_t hipDeviceTotalMem(size_t *b, int dev) {
    if (dev != 0)
        return 101;
    *b = mock_total;
    return 0;
}
MOCK_EXPORT hipError_t hipDeviceGetAttribute(int *v, int attr, int dev) {
    if (dev != 0)
        return 101;
    switch (attr) {
    case 16: /* integrated */
        *v = 0;
        return 0;
    case 63: /* multiprocessors */
        *v = 4;
        return 0;
    case 87: /* warp size */
        *v = 64;
        return 0;
    }
    return 1;
}
/* a made-up layout: the plugin must find the architecture by its text */
MOCK_EXPORT hipError_t hipGetDevicePropertiesR0600(void *props, int dev) {
    if (dev != 0)
        return 101;
    memset(props, 0, 1472);
    strcpy((char *)props, "STARK mock GPU");
    strcpy((char *)props + 1000, "gfx90a:sramecc+:xnack-");
    return 0;
}
MOCK_EXPORT hipError_t hipMemGetInfo(size_t *fr, size_t *tot) {
    HSTICKY();
    need_dev();
    pthread_mutex_lock(&mock_mu);
    *fr = mock_total - mock_used;
    *tot = mock_total;
    pthread_mutex_unlock(&mock_mu);
    return 0;
}
MOCK_EXPORT hipError_t hipMalloc(void **p, size_t bytes) {
    HSTICKY();
    need_dev();
    if (mock_alloc(p, bytes))
        return 2;
    return 0;
}
MOCK_EXPORT hipError_t hipFree(void *p) {
    need_dev();
    if (p != NULL)
        mock_free(p);
    return mock_sticky;
}
static hipError_t hip_copy(void *dst, const void *src, size_t n, int kind) {
    HSTICKY();
    need_dev();
    switch (kind) {
    case 1:
        mock_check_range("hipMemcpy H2D destination", (uintptr_t)dst, n);
        break;
    case 2:
        mock_check_range("hipMemcpy D2H source", (uintptr_t)src, n);
        break;
    case 3:
        mock_check_range("hipMemcpy D2D destination", (uintptr_t)dst, n);
        mock_check_range("hipMemcpy D2D source", (uintptr_t)src, n);
        if (((uintptr_t)dst < (uintptr_t)src && (uintptr_t)dst + n > (uintptr_t)src) ||
            ((uintptr_t)src < (uintptr_t)dst && (uintptr_t)src + n > (uintptr_t)dst))
            mock_bug("hipMemcpy D2D with overlapping ranges");
        break;
    default:
        mock_bug("hipMemcpy kind %d", kind);
    }
    memcpy(dst, src, n);
    return 0;
}
struct MockStream {
    int magic;
};
static void check_stream(void *s) {
    if (s == NULL)
        return;
    if (((MockStream *)s)->magic != 0x57)
        mock_bug("a stream that is not one (%p)", s);
}
MOCK_EXPORT hipError_t hipMemcpy(void *dst, const void *src, size_t n, int kind) { return hip_copy(dst, src, n, kind); }
MOCK_EXPORT hipError_t hipMemcpyAsync(void *dst, const void *src, size_t n, int kind, void *s) {
    check_stream(s);
    return hip_copy(dst, src, n, kind);
}
MOCK_EXPORT hipError_t hipStreamCreateWithFlags(void **s, unsigned flags) {
    (void)flags;
    HSTICKY();
    need_dev();
    *s = new MockStream{0x57};
    return 0;
}
MOCK_EXPORT hipError_t hipStreamDestroy(void *s) {
    if (s == NULL)
        mock_bug("destroy of the null stream");
    check_stream(s);
    ((MockStream *)s)->magic = 0;
    delete (MockStream *)s;
    return 0;
}
MOCK_EXPORT hipError_t hipStreamSynchronize(void *s) {
    HSTICKY();
    need_dev();
    check_stream(s);
    return 0;
}
MOCK_EXPORT hipError_t hipDeviceSynchronize(void) {
    HSTICKY();
    need_dev();
    return 0;
}
MOCK_EXPORT hipError_t hipDeviceReset(void) {
    need_dev();
    mock_sticky = 0;
    return 0;
}
struct MockEvent {
    int magic;
};
MOCK_EXPORT hipError_t hipEventCreateWithFlags(void **e, unsigned flags) {
    (void)flags;
    HSTICKY();
    need_dev();
    *e = new MockEvent{0xe7};
    return 0;
}
MOCK_EXPORT hipError_t hipEventRecord(void *e, void *s) {
    HSTICKY();
    check_stream(s);
    if (((MockEvent *)e)->magic != 0xe7)
        mock_bug("record of a bad event");
    return 0;
}
MOCK_EXPORT hipError_t hipEventSynchronize(void *e) {
    HSTICKY();
    if (((MockEvent *)e)->magic != 0xe7)
        mock_bug("sync of a bad event");
    return 0;
}
MOCK_EXPORT hipError_t hipEventDestroy(void *e) {
    if (((MockEvent *)e)->magic != 0xe7)
        mock_bug("destroy of a bad event");
    ((MockEvent *)e)->magic = 0;
    delete (MockEvent *)e;
    return 0;
}
MOCK_EXPORT hipError_t hipModuleLoadData(void **mod, const void *image) {
    HSTICKY();
    need_dev();
    int kind = mock_load_kind((const char *)image);
    if (kind < 0)
        return kind == -2 ? 209 : 200;
    Module *m = new Module{kind};
    pthread_mutex_lock(&mock_mu);
    mock_modules.push_back(m);
    pthread_mutex_unlock(&mock_mu);
    *mod = m;
    return 0;
}
MOCK_EXPORT hipError_t hipModuleUnload(void *mod) {
    pthread_mutex_lock(&mock_mu);
    int found = 0;
    for (auto &m : mock_modules)
        if (m == mod) {
            m = NULL;
            found = 1;
        }
    pthread_mutex_unlock(&mock_mu);
    if (!found)
        mock_bug("unload of a module that is not loaded");
    delete (Module *)mod;
    return mock_sticky;
}
MOCK_EXPORT hipError_t hipModuleGetFunction(void **fn, void *mod, const char *name) {
    HSTICKY();
    Function *f = mock_function((Module *)mod, name);
    if (f == NULL)
        return 500;
    *fn = f;
    return 0;
}
MOCK_EXPORT hipError_t hipModuleLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                             unsigned bz, unsigned shmem, void *s, void **params, void **extra) {
    HSTICKY();
    need_dev();
    check_stream(s);
    if (shmem != 0)
        mock_bug("dynamic shared memory");
    const void *buf = NULL;
    size_t size = 0;
    if (extra != NULL) {
        for (int i = 0; extra[i] != (void *)3; i += 2) {
            if (i > 8)
                mock_bug("extra[] without HIP_LAUNCH_PARAM_END (0x03)");
            if (extra[i] == (void *)1)
                buf = extra[i + 1];
            else if (extra[i] == (void *)2)
                size = *(size_t *)extra[i + 1];
            else
                mock_bug("extra[%d] = %p", i, extra[i]);
        }
    }
    int r = mock_run((Function *)fn, gx, gy, gz, bx, by, bz, params, buf, size);
    if (r)
        mock_sticky = r;
    return 0;
}
MOCK_EXPORT const char *hipGetErrorName(hipError_t r) {
    switch (r) {
    case 2:
        return "hipErrorOutOfMemory";
    case 500:
        return "hipErrorNotFound";
    case 700:
        return "hipErrorIllegalAddress";
    }
    return "hipErrorMock";
}
MOCK_EXPORT const char *hipGetErrorString(hipError_t r) {
    return r == 700 ? "an illegal memory access was encountered (mock)" : "mock error";
}

#endif /* MOCK_HIP */

/* ======================================================================= */
#if defined(MOCK_NVRTC) || defined(MOCK_HIPRTC)

struct Prog {
    std::string src, log, image;
};

static int rtc_create(Prog **p, const char *src, int nh) {
    if (nh != 0)
        return 4;
    *p = new Prog{src, "", ""};
    return 0;
}

static int rtc_compile(Prog *p, int n, const char *const *opts, const char *archkey) {
    if (p->src != mock_kernels_src) {
        p->log = "mock compiler: the source is not plugins/cuda/kernels.cu as built into the mock";
        return 6;
    }
    std::string arch;
    for (int i = 0; i < n; i++)
        if (strncmp(opts[i], archkey, strlen(archkey)) == 0)
            arch = opts[i] + strlen(archkey);
    if (arch.empty()) {
        p->log = std::string("mock compiler: no ") + archkey + " option";
        return 6;
    }
    int cubin = arch.rfind("sm_", 0) == 0 || arch.rfind("gfx", 0) == 0;
    p->image = std::string(MOCK_IMAGE) + (cubin ? " cubin " : " ptx ") + arch + "\n";
    MLOG("compiled for %s\n", arch.c_str());
    return 0;
}

#if defined(MOCK_NVRTC)
MOCK_EXPORT int nvrtcVersion(int *major, int *minor) {
    *major = 12;
    *minor = 4;
    return 0;
}
MOCK_EXPORT const char *nvrtcGetErrorString(int r) { return r ? "NVRTC_ERROR_MOCK" : "NVRTC_SUCCESS"; }
MOCK_EXPORT int nvrtcCreateProgram(Prog **p, const char *src, const char *name, int nh, const char *const *h,
                                   const char *const *in) {
    (void)name;
    (void)h;
    (void)in;
    return rtc_create(p, src, nh);
}
MOCK_EXPORT int nvrtcCompileProgram(Prog *p, int n, const char *const *opts) {
    return rtc_compile(p, n, opts, "--gpu-architecture=");
}
MOCK_EXPORT int nvrtcGetProgramLogSize(Prog *p, size_t *n) {
    *n = p->log.size() + 1;
    return 0;
}
MOCK_EXPORT int nvrtcGetProgramLog(Prog *p, char *log) {
    memcpy(log, p->log.c_str(), p->log.size() + 1);
    return 0;
}
static int get_size(Prog *p, size_t *n) {
    if (p->image.empty())
        return 6;
    *n = p->image.size() + 1;
    return 0;
}
static int get_image(Prog *p, char *out) {
    if (p->image.empty())
        return 6;
    memcpy(out, p->image.c_str(), p->image.size() + 1);
    return 0;
}
MOCK_EXPORT int nvrtcGetPTXSize(Prog *p, size_t *n) { return get_size(p, n); }
MOCK_EXPORT int nvrtcGetPTX(Prog *p, char *out) { return get_image(p, out); }
MOCK_EXPORT int nvrtcGetCUBINSize(Prog *p, size_t *n) { return get_size(p, n); }
MOCK_EXPORT int nvrtcGetCUBIN(Prog *p, char *out) { return get_image(p, out); }
MOCK_EXPORT int nvrtcGetNumSupportedArchs(int *n) {
    *n = 6;
    return 0;
}
MOCK_EXPORT int nvrtcGetSupportedArchs(int *a) {
    static const int archs[] = {50, 60, 70, 75, 80, 90};
    memcpy(a, archs, sizeof archs);
    return 0;
}
MOCK_EXPORT int nvrtcDestroyProgram(Prog **p) {
    delete *p;
    *p = NULL;
    return 0;
}
#endif

#if defined(MOCK_HIPRTC)
MOCK_EXPORT const char *hiprtcGetErrorString(int r) { return r ? "HIPRTC_ERROR_MOCK" : "HIPRTC_SUCCESS"; }
MOCK_EXPORT int hiprtcVersion(int *major, int *minor) {
    *major = 6;
    *minor = 1;
    return 0;
}
MOCK_EXPORT int hiprtcCreateProgram(Prog **p, const char *src, const char *name, int nh, const char **h,
                                    const char **in) {
    (void)name;
    (void)h;
    (void)in;
    return rtc_create(p, src, nh);
}
MOCK_EXPORT int hiprtcCompileProgram(Prog *p, int n, const char **opts) {
    return rtc_compile(p, n, opts, "--offload-arch=");
}
MOCK_EXPORT int hiprtcGetProgramLogSize(Prog *p, size_t *n) {
    *n = p->log.size() + 1;
    return 0;
}
MOCK_EXPORT int hiprtcGetProgramLog(Prog *p, char *log) {
    memcpy(log, p->log.c_str(), p->log.size() + 1);
    return 0;
}
MOCK_EXPORT int hiprtcGetCodeSize(Prog *p, size_t *n) {
    if (p->image.empty())
        return 6;
    *n = p->image.size() + 1;
    return 0;
}
MOCK_EXPORT int hiprtcGetCode(Prog *p, char *out) {
    if (p->image.empty())
        return 6;
    memcpy(out, p->image.c_str(), p->image.size() + 1);
    return 0;
}
MOCK_EXPORT int hiprtcDestroyProgram(Prog **p) {
    delete *p;
    *p = NULL;
    return 0;
}
#endif

#endif /* MOCK_NVRTC || MOCK_HIPRTC */
