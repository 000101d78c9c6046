/*
 * stark_guest.h - the C guest SDK for STARK WASM actors (guest contract v1).
 *
 * The contract itself is docs/wasm-abi.md; this header implements it for C11
 * guests built with clang for wasm32-wasi as a *reactor*. One header, two
 * parts:
 *
 *   1. Declarations (in every file that includes it): status codes, the
 *      imports of module "stark" (stark_raw_*), typed wrappers around them
 *      (stark_send, stark_reply, ...), and a msgpack writer and reader
 *      (stark_mp_*). All static inline: no globals, no constructors, and
 *      what a guest does not call costs it nothing (an import it does not
 *      call does not even appear in the module).
 *   2. The exports (only in the one .c file that defines
 *      STARK_GUEST_IMPLEMENTATION before including this header):
 *      stark_abi_version, stark_alloc, stark_free and stark_handle (with
 *      batching), plus the optional hooks the author asked for.
 *
 * A guest author writes callbacks only:
 *
 *     #define STARK_GUEST_INIT            // optional: export stark_init
 *     #define STARK_GUEST_IMPLEMENTATION  // exactly one .c file per module
 *     #include "stark_guest.h"
 *
 *     int32_t stark_on_init(const uint8_t *data, uint32_t len) { ... }
 *     int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
 *         stark_reply(tag, data, len);   // echo (the status is ignored here)
 *         return STARK_OK;
 *     }
 *
 * Hooks and the macros that export them (define the macro before the
 * #include in the implementation file; without it the export does not exist,
 * which matters: the host calls stark_restore only when it exists, for
 * instance):
 *
 *     macro                 export          the author defines
 *     (always)              stark_handle    int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len)
 *     STARK_GUEST_INIT      stark_init      int32_t stark_on_init(const uint8_t *data, uint32_t len)
 *     STARK_GUEST_STOP      stark_stop      void    stark_on_stop(void)
 *     STARK_GUEST_SNAPSHOT  stark_snapshot  int32_t stark_on_snapshot(void)     (calls stark_save)
 *     STARK_GUEST_RESTORE   stark_restore   int32_t stark_on_restore(const uint8_t *data, uint32_t len)
 *
 * Other switches (rarely wanted):
 *
 *     STARK_GUEST_NO_BATCH            stark_handle handles one message per call
 *                                     and never calls the `next` import.
 *     STARK_GUEST_CUSTOM_ABI_VERSION  the header does not define
 *                                     stark_abi_version; the file does (only
 *                                     for testing hosts against bad modules).
 *
 * Every hook returns a status: STARK_OK, or a non-zero code which fails the
 * actor (call stark_fail first to give the failure a reason). A trap
 * (__builtin_trap, an out-of-bounds access, stack exhaustion) fails it too.
 *
 * Memory. The payload handed to stark_on_message (and to stark_on_init and
 * stark_on_restore) lives in a region the host obtained from stark_alloc; it
 * stays valid only until the hook returns. Copy what you need later. Never
 * free it. Pointers passed to the wrappers below are only read during the
 * call: the host copies the bytes (a send, a reply, a timer payload, ...).
 *
 * Build (see wasmguest/c/guests.mk, which builds every guest in the tree):
 *
 *     clang-14 --target=wasm32-wasi -mexec-model=reactor -mbulk-memory -O2 \
 *         -std=c11 -Wall -Wextra -I wasmguest/c \
 *         -Wl,--strip-debug -Wl,--stack-first -Wl,-z,stack-size=16384 \
 *         -o build/wasm/my-guest.wasm my_guest.c
 *
 *   -mexec-model=reactor  the contract wants a reactor (_initialize, no
 *                         _start); a command module is refused by the host.
 *   -mbulk-memory         memcpy/memset become single memory.copy/memory.fill
 *                         instructions instead of byte loops: under
 *                         interruptible execution each loop back-edge costs a
 *                         check, so bulk copies matter.
 *   --stack-first         puts the shadow stack at the bottom of memory, so a
 *                         stack overflow runs below address 0 and traps
 *                         instead of silently overwriting static data.
 *   stack-size=16384      16 KiB of shadow stack (only address-taken locals
 *                         and large arrays live there) is plenty for a
 *                         message handler, and keeps stack + static data +
 *                         the first heap chunk inside ONE 64 KiB page: the
 *                         module's initial memory is a single page, malloc
 *                         (wasi-libc's dlmalloc) starts at __heap_base inside
 *                         that page (about 17 KiB in: some 47 KiB are left
 *                         for the heap), and an instance that handles small
 *                         messages never grows. 10,000 instances then need
 *                         625 MiB of linear memory. Raise it for guests with
 *                         deep recursion or big local arrays (printf of
 *                         floating point needs about 8 KiB).
 *   --strip-debug         no DWARF in the module; the name section stays so
 *                         that a trap's stack trace names the functions.
 */
#ifndef STARK_GUEST_H
#define STARK_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Types and status codes (docs/wasm-abi.md, "Types and status codes").      */
/* ------------------------------------------------------------------------ */

/* The major version of the contract this header implements. */
#define STARK_ABI_VERSION 1

/* Status codes returned by the imports and by the hooks. Same numbers as the
 * contract table and as abi/stark.h. */
#define STARK_OK 0          /* done */
#define STARK_INVALID 1     /* bad argument (unknown level, negative delay, ...) */
#define STARK_NOT_FOUND 2   /* stale or unknown ref, unknown name or timer */
#define STARK_TIMEOUT 3     /* a deadline passed */
#define STARK_FULL 4        /* the target's mailbox is full */
#define STARK_EXHAUSTED 5   /* a limit of the host was reached (actors, memory) */
#define STARK_STOPPED 6     /* the target or the runtime is stopping */
#define STARK_UNSUPPORTED 7 /* the host does not offer this here */
#define STARK_INTERNAL 8    /* a bug in the host; the message says more */
#define STARK_DENIED 9      /* the actor's spawn options do not grant this */
#define STARK_TOO_LARGE 10  /* a payload over the actor's message limit */

/* Log levels for stark_log. */
#define STARK_LOG_DEBUG 0
#define STARK_LOG_INFO 1
#define STARK_LOG_WARN 2
#define STARK_LOG_ERROR 3

/* An actor ref: the host's 64-bit ref (slot in the low 32 bits, generation in
 * the high 32). 0 names nobody. Refs are plain values: copy them freely. */
typedef uint64_t stark_ref;
#define STARK_NOBODY ((stark_ref)0)

/* A timer id, as written by stark_set_timer. */
typedef uint64_t stark_timer_id;

/* What the `next` import writes: the next queued message. ptr/len describe
 * the payload in guest memory (valid until the following `next` or until the
 * export returns). */
typedef struct stark_msg_info {
    uint32_t tag;
    uint32_t ptr;
    uint32_t len;
} stark_msg_info;

/* ------------------------------------------------------------------------ */
/* Raw imports of module "stark". Names and signatures exactly as in the     */
/* contract; pointers are i32 offsets into this module's memory. A pointer   */
/* and length outside memory make the host trap the actor. Prefer the typed  */
/* wrappers below; the raw forms exist for tests and for exotic callers.     */
/* Only the imports a module actually calls appear in its import section.    */
/* ------------------------------------------------------------------------ */

#define STARK__IMPORT(name) __attribute__((import_module("stark"), import_name(name)))

STARK__IMPORT("send")
int32_t stark_raw_send(uint64_t to, uint32_t tag, const void *ptr, uint32_t len);
STARK__IMPORT("reply")
int32_t stark_raw_reply(uint32_t tag, const void *ptr, uint32_t len);
STARK__IMPORT("self")
uint64_t stark_raw_self(void);
STARK__IMPORT("sender")
uint64_t stark_raw_sender(void);
STARK__IMPORT("log")
void stark_raw_log(int32_t level, const void *ptr, uint32_t len);
STARK__IMPORT("now")
int64_t stark_raw_now(void);
STARK__IMPORT("set_timer")
int32_t stark_raw_set_timer(int64_t delay_ns, uint32_t tag, const void *ptr, uint32_t len,
                            uint32_t repeat, uint64_t *id_out);
STARK__IMPORT("cancel_timer")
int32_t stark_raw_cancel_timer(uint64_t id);
STARK__IMPORT("spawn")
int32_t stark_raw_spawn(const void *name_ptr, uint32_t name_len, const void *init_ptr,
                        uint32_t init_len, uint64_t *ref_out);
STARK__IMPORT("lookup")
int32_t stark_raw_lookup(const void *name_ptr, uint32_t name_len, uint64_t *ref_out);
STARK__IMPORT("fail")
void stark_raw_fail(const void *ptr, uint32_t len);
STARK__IMPORT("next")
int32_t stark_raw_next(stark_msg_info *info_out);
STARK__IMPORT("save")
int32_t stark_raw_save(const void *ptr, uint32_t len);

/* ------------------------------------------------------------------------ */
/* Typed wrappers.                                                           */
/* ------------------------------------------------------------------------ */

/* Sends `len` bytes at `data` with `tag` to `to`, this actor being the
 * sender. The host copies the bytes; the caller keeps its buffer. `data` may
 * be NULL when `len` is 0.
 * Returns STARK_OK, STARK_NOT_FOUND (stale or unknown ref), STARK_FULL,
 * STARK_STOPPED, STARK_TOO_LARGE, ... */
static inline int32_t stark_send(stark_ref to, uint32_t tag, const void *data, uint32_t len) {
    return stark_raw_send(to, tag, data, len);
}

/* Answers the message in hand (the waiting ask, or a message to its sender)
 * with `tag` and `len` bytes at `data` (copied by the host).
 * Returns STARK_OK, STARK_NOT_FOUND when there is nobody to answer,
 * STARK_TOO_LARGE, ... A handler may ignore the status when an answer is a
 * courtesy (a message sent with no sender cannot be answered). */
static inline int32_t stark_reply(uint32_t tag, const void *data, uint32_t len) {
    return stark_raw_reply(tag, data, len);
}

/* This actor's ref. */
static inline stark_ref stark_self(void) { return stark_raw_self(); }

/* The sender of the message in hand, STARK_NOBODY (0) if none. */
static inline stark_ref stark_sender(void) { return stark_raw_sender(); }

/* Writes `len` bytes at `msg` as one line to the host's log at `level`
 * (STARK_LOG_DEBUG .. STARK_LOG_ERROR). The text need not be NUL-terminated. */
static inline void stark_log(int32_t level, const char *msg, uint32_t len) {
    stark_raw_log(level, msg, len);
}

/* stark_log for a NUL-terminated string. */
static inline void stark_log_str(int32_t level, const char *msg) {
    stark_raw_log(level, msg, (uint32_t)strlen(msg));
}

/* printf-style logging into a 256-byte stack buffer (longer text is cut).
 * A guest that calls it links wasi-libc's vsnprintf: about 17 KiB of code,
 * about 8 KiB of stack for floating-point conversions, and imports of
 * wasi_snapshot_preview1 (fd_write, fd_seek, fd_close: musl's stdio, never
 * called by vsnprintf). A guest that does not call it pays nothing. */
static inline void stark_logf(int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void stark_logf(int32_t level, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
    stark_raw_log(level, buf, (uint32_t)n);
}

/* The runtime clock: nanoseconds since the Unix epoch. */
static inline int64_t stark_now(void) { return stark_raw_now(); }

/* After `delay_ns` nanoseconds (and then every `delay_ns` if `repeat`) the
 * host sends `tag` and a copy of the `len` bytes at `data` to this actor.
 * The timer's id is stored at `*id_out` when `id_out` is not NULL (0 when
 * the call failed).
 * Returns STARK_OK, STARK_INVALID (negative delay, ...), STARK_EXHAUSTED, ... */
static inline int32_t stark_set_timer(int64_t delay_ns, uint32_t tag, const void *data,
                                      uint32_t len, bool repeat, stark_timer_id *id_out) {
    uint64_t id = 0;
    int32_t st = stark_raw_set_timer(delay_ns, tag, data, len, repeat ? 1u : 0u, &id);
    if (id_out) *id_out = (st == STARK_OK) ? id : 0;
    return st;
}

/* Stops a timer. Returns STARK_OK, or STARK_NOT_FOUND when it already fired
 * (one-shot) or is unknown. */
static inline int32_t stark_cancel_timer(stark_timer_id id) { return stark_raw_cancel_timer(id); }

/* Starts a child actor from the module registered in the host under the name
 * at `module` (`module_len` bytes, no NUL needed) with `init_len` init bytes
 * at `init` (copied; may be NULL when 0). The child's ref is stored at
 * `*ref_out` when not NULL (STARK_NOBODY when the call failed).
 * Returns STARK_OK, STARK_DENIED (the spawn options do not allow spawning),
 * STARK_NOT_FOUND (no such module), STARK_EXHAUSTED, ... */
static inline int32_t stark_spawn(const char *module, uint32_t module_len, const void *init,
                                  uint32_t init_len, stark_ref *ref_out) {
    uint64_t ref = 0;
    int32_t st = stark_raw_spawn(module, module_len, init, init_len, &ref);
    if (ref_out) *ref_out = (st == STARK_OK) ? ref : 0;
    return st;
}

/* The ref of the actor registered under the name at `name` (`name_len`
 * bytes), stored at `*ref_out` when not NULL (STARK_NOBODY when the call
 * failed). Returns STARK_OK or STARK_NOT_FOUND. */
static inline int32_t stark_lookup(const char *name, uint32_t name_len, stark_ref *ref_out) {
    uint64_t ref = 0;
    int32_t st = stark_raw_lookup(name, name_len, &ref);
    if (ref_out) *ref_out = (st == STARK_OK) ? ref : 0;
    return st;
}

/* Records why the hook is about to return a non-zero status: the
 * NUL-terminated `reason` becomes the failure's reason. Does not return a
 * failure by itself: the hook still has to return the status. */
static inline void stark_fail(const char *reason) {
    stark_raw_fail(reason, (uint32_t)strlen(reason));
}

/* stark_fail with an explicit length (no NUL needed). */
static inline void stark_fail_bytes(const void *reason, uint32_t len) {
    stark_raw_fail(reason, len);
}

/* stark_fail(reason), then returns `status`: `return stark_failed(STARK_INVALID, "bad input");` */
static inline int32_t stark_failed(int32_t status, const char *reason) {
    stark_fail(reason);
    return status;
}

/* Only inside stark_on_snapshot: appends `len` bytes at `data` (copied) to
 * the state handed to the new module's stark_on_restore. May be called more
 * than once; the pieces are concatenated.
 * Returns STARK_OK, or an error status (outside a snapshot, where the
 * contract does not allow it, or when the host refuses the size). */
static inline int32_t stark_save(const void *data, uint32_t len) { return stark_raw_save(data, len); }

/* ------------------------------------------------------------------------ */
/* Little-endian helpers for fixed-layout payloads (wasm32 is little-endian, */
/* so these are a plain load or store through memcpy).                       */
/* ------------------------------------------------------------------------ */

static inline uint32_t stark_get_u32le(const void *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t stark_get_u64le(const void *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void stark_put_u32le(void *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void stark_put_u64le(void *p, uint64_t v) { memcpy(p, &v, 8); }

/* ------------------------------------------------------------------------ */
/* msgpack (https://github.com/msgpack/msgpack/blob/master/spec.md).         */
/*                                                                           */
/* The writer fills a caller-owned buffer; the reader walks a caller-owned   */
/* buffer without copying (strings and binaries point into it). Neither      */
/* allocates. Every operation checks bounds. Both are sticky: the first      */
/* operation that fails (no room, truncated or malformed input, a type other */
/* than the one asked for) sets `failed`, leaves the position where it was,  */
/* and every later operation returns false without doing anything, so a      */
/* sequence of calls can be checked once at the end.                         */
/* ------------------------------------------------------------------------ */

typedef struct stark_mp_writer {
    uint8_t *buf;  /* the caller's buffer */
    uint32_t cap;  /* its size in bytes */
    uint32_t len;  /* bytes written so far */
    bool failed;   /* a write did not fit; nothing was written since */
} stark_mp_writer;

/* Starts writing at the beginning of `buf` (`cap` bytes, owned by the caller). */
static inline void stark_mp_writer_init(stark_mp_writer *w, void *buf, uint32_t cap) {
    w->buf = (uint8_t *)buf;
    w->cap = cap;
    w->len = 0;
    w->failed = false;
}

/* True when every write so far fitted. */
static inline bool stark_mp_writer_ok(const stark_mp_writer *w) { return !w->failed; }

/* Reserves `n` bytes and returns where they start, or NULL (and sets failed). */
static inline uint8_t *stark_mp__reserve(stark_mp_writer *w, uint32_t n) {
    if (w->failed || n > w->cap - w->len) {
        w->failed = true;
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static inline void stark_mp__put16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void stark_mp__put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void stark_mp__put64(uint8_t *p, uint64_t v) {
    stark_mp__put32(p, (uint32_t)(v >> 32));
    stark_mp__put32(p + 4, (uint32_t)v);
}

/* Writes a type byte followed by a big-endian count in the smallest of the
 * three sizes (8, 16, 32 bits) whose codes are c8, c8+1, c8+2; or the fix
 * form `fix | n` when n <= fixmax (fixmax 0 means no fix form). */
static inline bool stark_mp__header(stark_mp_writer *w, uint32_t n, uint8_t fix, uint32_t fixmax,
                                    uint8_t c8, uint8_t c16, uint8_t c32) {
    uint8_t *p;
    if (fixmax && n <= fixmax) {
        if (!(p = stark_mp__reserve(w, 1))) return false;
        p[0] = (uint8_t)(fix | n);
    } else if (c8 && n <= 0xff) {
        if (!(p = stark_mp__reserve(w, 2))) return false;
        p[0] = c8;
        p[1] = (uint8_t)n;
    } else if (n <= 0xffff) {
        if (!(p = stark_mp__reserve(w, 3))) return false;
        p[0] = c16;
        stark_mp__put16(p + 1, n);
    } else {
        if (!(p = stark_mp__reserve(w, 5))) return false;
        p[0] = c32;
        stark_mp__put32(p + 1, n);
    }
    return true;
}

/* nil */
static inline bool stark_mp_write_nil(stark_mp_writer *w) {
    uint8_t *p = stark_mp__reserve(w, 1);
    if (!p) return false;
    p[0] = 0xc0;
    return true;
}

/* true / false */
static inline bool stark_mp_write_bool(stark_mp_writer *w, bool v) {
    uint8_t *p = stark_mp__reserve(w, 1);
    if (!p) return false;
    p[0] = v ? 0xc3 : 0xc2;
    return true;
}

/* An unsigned integer in the smallest form: positive fixint, uint8, uint16,
 * uint32 or uint64. */
static inline bool stark_mp_write_uint(stark_mp_writer *w, uint64_t v) {
    uint8_t *p;
    if (v <= 0x7f) {
        if (!(p = stark_mp__reserve(w, 1))) return false;
        p[0] = (uint8_t)v;
    } else if (v <= 0xff) {
        if (!(p = stark_mp__reserve(w, 2))) return false;
        p[0] = 0xcc;
        p[1] = (uint8_t)v;
    } else if (v <= 0xffff) {
        if (!(p = stark_mp__reserve(w, 3))) return false;
        p[0] = 0xcd;
        stark_mp__put16(p + 1, (uint32_t)v);
    } else if (v <= 0xffffffffu) {
        if (!(p = stark_mp__reserve(w, 5))) return false;
        p[0] = 0xce;
        stark_mp__put32(p + 1, (uint32_t)v);
    } else {
        if (!(p = stark_mp__reserve(w, 9))) return false;
        p[0] = 0xcf;
        stark_mp__put64(p + 1, v);
    }
    return true;
}

/* A signed integer in the smallest form: non-negative values as
 * stark_mp_write_uint does (the usual msgpack convention), negative ones as
 * negative fixint, int8, int16, int32 or int64. */
static inline bool stark_mp_write_int(stark_mp_writer *w, int64_t v) {
    if (v >= 0) return stark_mp_write_uint(w, (uint64_t)v);
    uint8_t *p;
    if (v >= -32) {
        if (!(p = stark_mp__reserve(w, 1))) return false;
        p[0] = (uint8_t)(int8_t)v; /* 0xe0..0xff */
    } else if (v >= INT8_MIN) {
        if (!(p = stark_mp__reserve(w, 2))) return false;
        p[0] = 0xd0;
        p[1] = (uint8_t)(int8_t)v;
    } else if (v >= INT16_MIN) {
        if (!(p = stark_mp__reserve(w, 3))) return false;
        p[0] = 0xd1;
        stark_mp__put16(p + 1, (uint32_t)(uint16_t)(int16_t)v);
    } else if (v >= INT32_MIN) {
        if (!(p = stark_mp__reserve(w, 5))) return false;
        p[0] = 0xd2;
        stark_mp__put32(p + 1, (uint32_t)(int32_t)v);
    } else {
        if (!(p = stark_mp__reserve(w, 9))) return false;
        p[0] = 0xd3;
        stark_mp__put64(p + 1, (uint64_t)v);
    }
    return true;
}

/* float 32 */
static inline bool stark_mp_write_float(stark_mp_writer *w, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    uint8_t *p = stark_mp__reserve(w, 5);
    if (!p) return false;
    p[0] = 0xca;
    stark_mp__put32(p + 1, bits);
    return true;
}

/* float 64 */
static inline bool stark_mp_write_double(stark_mp_writer *w, double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    uint8_t *p = stark_mp__reserve(w, 9);
    if (!p) return false;
    p[0] = 0xcb;
    stark_mp__put64(p + 1, bits);
    return true;
}

/* The header of a string of `n` bytes (fixstr, str8, str16 or str32); the
 * caller writes the bytes next with stark_mp_write_raw. */
static inline bool stark_mp_write_str_header(stark_mp_writer *w, uint32_t n) {
    return stark_mp__header(w, n, 0xa0, 31, 0xd9, 0xda, 0xdb);
}

/* The header of a binary of `n` bytes (bin8, bin16 or bin32); the caller
 * writes the bytes next with stark_mp_write_raw. */
static inline bool stark_mp_write_bin_header(stark_mp_writer *w, uint32_t n) {
    return stark_mp__header(w, n, 0, 0, 0xc4, 0xc5, 0xc6);
}

/* The header of an array of `n` elements (fixarray, array16, array32); the
 * caller writes the `n` elements next. */
static inline bool stark_mp_write_array(stark_mp_writer *w, uint32_t n) {
    return stark_mp__header(w, n, 0x90, 15, 0, 0xdc, 0xdd);
}

/* The header of a map of `n` key/value pairs (fixmap, map16, map32); the
 * caller writes the 2*n keys and values next, alternating. */
static inline bool stark_mp_write_map(stark_mp_writer *w, uint32_t n) {
    return stark_mp__header(w, n, 0x80, 15, 0, 0xde, 0xdf);
}

/* `n` bytes at `data` as they are (already-encoded msgpack, or the contents
 * after a str/bin header). One memcpy. */
static inline bool stark_mp_write_raw(stark_mp_writer *w, const void *data, uint32_t n) {
    uint8_t *p = stark_mp__reserve(w, n);
    if (!p) return false;
    if (n) memcpy(p, data, n);
    return true;
}

/* A string of `n` bytes at `s` (UTF-8 expected, not checked). All or nothing:
 * when header and bytes do not both fit, nothing is written. */
static inline bool stark_mp_write_str(stark_mp_writer *w, const char *s, uint32_t n) {
    uint32_t mark = w->len;
    if (stark_mp_write_str_header(w, n) && stark_mp_write_raw(w, s, n)) return true;
    w->len = mark;
    return false;
}

/* A NUL-terminated string (without the NUL). */
static inline bool stark_mp_write_cstr(stark_mp_writer *w, const char *s) {
    return stark_mp_write_str(w, s, (uint32_t)strlen(s));
}

/* A binary of `n` bytes at `data`. All or nothing, like stark_mp_write_str. */
static inline bool stark_mp_write_bin(stark_mp_writer *w, const void *data, uint32_t n) {
    uint32_t mark = w->len;
    if (stark_mp_write_bin_header(w, n) && stark_mp_write_raw(w, data, n)) return true;
    w->len = mark;
    return false;
}

/* The kinds of value stark_mp_peek reports. */
typedef enum stark_mp_type {
    STARK_MP_NONE = 0, /* end of input, a failed reader, or the reserved byte 0xc1 */
    STARK_MP_NIL,
    STARK_MP_BOOL,
    STARK_MP_INT, /* any integer form, signed or unsigned */
    STARK_MP_FLOAT, /* float 32 or float 64 */
    STARK_MP_STR,
    STARK_MP_BIN,
    STARK_MP_ARRAY,
    STARK_MP_MAP,
    STARK_MP_EXT /* fixext / ext (not decoded; stark_mp_skip skips them) */
} stark_mp_type;

typedef struct stark_mp_reader {
    const uint8_t *p; /* the caller's input */
    uint32_t len;     /* its size in bytes */
    uint32_t pos;     /* bytes consumed so far */
    bool failed;      /* an operation failed; nothing was consumed since */
} stark_mp_reader;

/* Starts reading `len` bytes at `data` (owned by the caller; strings and
 * binaries returned by the reader point into it). */
static inline void stark_mp_reader_init(stark_mp_reader *r, const void *data, uint32_t len) {
    r->p = (const uint8_t *)data;
    r->len = len;
    r->pos = 0;
    r->failed = false;
}

/* True when nothing failed so far. */
static inline bool stark_mp_reader_ok(const stark_mp_reader *r) { return !r->failed; }

/* True when nothing failed and every byte was consumed: the check for
 * "exactly one value and nothing after it". */
static inline bool stark_mp_reader_done(const stark_mp_reader *r) {
    return !r->failed && r->pos == r->len;
}

/* Bytes left to read. */
static inline uint32_t stark_mp_remaining(const stark_mp_reader *r) { return r->len - r->pos; }

static inline bool stark_mp__fail(stark_mp_reader *r) {
    r->failed = true;
    return false;
}

static inline uint32_t stark_mp__get16(const uint8_t *p) {
    return (uint32_t)p[0] << 8 | (uint32_t)p[1];
}
static inline uint32_t stark_mp__get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint64_t stark_mp__get64(const uint8_t *p) {
    return (uint64_t)stark_mp__get32(p) << 32 | (uint64_t)stark_mp__get32(p + 4);
}

/* The kind of the next value, without consuming anything. */
static inline stark_mp_type stark_mp_peek(const stark_mp_reader *r) {
    if (r->failed || r->pos >= r->len) return STARK_MP_NONE;
    uint8_t b = r->p[r->pos];
    if (b <= 0x7f || b >= 0xe0) return STARK_MP_INT;
    if (b <= 0x8f) return STARK_MP_MAP;
    if (b <= 0x9f) return STARK_MP_ARRAY;
    if (b <= 0xbf) return STARK_MP_STR;
    switch (b) {
    case 0xc0: return STARK_MP_NIL;
    case 0xc2: case 0xc3: return STARK_MP_BOOL;
    case 0xc4: case 0xc5: case 0xc6: return STARK_MP_BIN;
    case 0xc7: case 0xc8: case 0xc9: return STARK_MP_EXT;
    case 0xca: case 0xcb: return STARK_MP_FLOAT;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return STARK_MP_EXT;
    case 0xd9: case 0xda: case 0xdb: return STARK_MP_STR;
    case 0xdc: case 0xdd: return STARK_MP_ARRAY;
    case 0xde: case 0xdf: return STARK_MP_MAP;
    default:
        if (b >= 0xcc && b <= 0xd3) return STARK_MP_INT;
        return STARK_MP_NONE; /* 0xc1 */
    }
}

/* Reads an integer of any form into a sign flag and magnitude bits: on
 * success *neg tells whether the value is negative, and *bits holds the value
 * (two's complement when negative). Consumes it. */
static inline bool stark_mp__read_integer(stark_mp_reader *r, bool *neg, uint64_t *bits) {
    if (r->failed || r->pos >= r->len) return stark_mp__fail(r);
    const uint8_t *p = r->p + r->pos;
    uint32_t avail = r->len - r->pos;
    uint8_t b = p[0];
    uint32_t size;
    uint64_t v;
    bool s = false;
    if (b <= 0x7f) {
        r->pos += 1;
        *neg = false;
        *bits = b;
        return true;
    }
    if (b >= 0xe0) {
        r->pos += 1;
        *neg = true;
        *bits = (uint64_t)(int64_t)(int8_t)b;
        return true;
    }
    switch (b) {
    case 0xcc: size = 1; break;
    case 0xcd: size = 2; break;
    case 0xce: size = 4; break;
    case 0xcf: size = 8; break;
    case 0xd0: size = 1; s = true; break;
    case 0xd1: size = 2; s = true; break;
    case 0xd2: size = 4; s = true; break;
    case 0xd3: size = 8; s = true; break;
    default: return stark_mp__fail(r);
    }
    if (avail < 1 + size) return stark_mp__fail(r);
    switch (size) {
    case 1: v = s ? (uint64_t)(int64_t)(int8_t)p[1] : p[1]; break;
    case 2: v = s ? (uint64_t)(int64_t)(int16_t)(uint16_t)stark_mp__get16(p + 1) : stark_mp__get16(p + 1); break;
    case 4: v = s ? (uint64_t)(int64_t)(int32_t)stark_mp__get32(p + 1) : stark_mp__get32(p + 1); break;
    default: v = stark_mp__get64(p + 1); break;
    }
    r->pos += 1 + size;
    *neg = s && (int64_t)v < 0;
    *bits = v;
    return true;
}

/* Reads an integer (any signed or unsigned form) that fits int64_t into *out.
 * Fails (consuming nothing) on another type or on a uint64 above INT64_MAX. */
static inline bool stark_mp_read_int(stark_mp_reader *r, int64_t *out) {
    uint32_t mark = r->pos;
    bool neg;
    uint64_t bits;
    if (!stark_mp__read_integer(r, &neg, &bits)) return false;
    if (!neg && bits > (uint64_t)INT64_MAX) {
        r->pos = mark;
        return stark_mp__fail(r);
    }
    *out = (int64_t)bits;
    return true;
}

/* Reads a non-negative integer (any form, signed forms included when the
 * value is >= 0) into *out. Fails (consuming nothing) on another type or on a
 * negative value. */
static inline bool stark_mp_read_uint(stark_mp_reader *r, uint64_t *out) {
    uint32_t mark = r->pos;
    bool neg;
    uint64_t bits;
    if (!stark_mp__read_integer(r, &neg, &bits)) return false;
    if (neg) {
        r->pos = mark;
        return stark_mp__fail(r);
    }
    *out = bits;
    return true;
}

/* Reads nil. */
static inline bool stark_mp_read_nil(stark_mp_reader *r) {
    if (r->failed || r->pos >= r->len || r->p[r->pos] != 0xc0) return stark_mp__fail(r);
    r->pos += 1;
    return true;
}

/* Reads true or false into *out. */
static inline bool stark_mp_read_bool(stark_mp_reader *r, bool *out) {
    if (r->failed || r->pos >= r->len) return stark_mp__fail(r);
    uint8_t b = r->p[r->pos];
    if (b != 0xc2 && b != 0xc3) return stark_mp__fail(r);
    *out = b == 0xc3;
    r->pos += 1;
    return true;
}

/* Reads a float 32 or float 64 into *out. */
static inline bool stark_mp_read_double(stark_mp_reader *r, double *out) {
    if (r->failed || r->pos >= r->len) return stark_mp__fail(r);
    const uint8_t *p = r->p + r->pos;
    uint32_t avail = r->len - r->pos;
    if (p[0] == 0xca && avail >= 5) {
        uint32_t bits = stark_mp__get32(p + 1);
        float f;
        memcpy(&f, &bits, 4);
        *out = f;
        r->pos += 5;
        return true;
    }
    if (p[0] == 0xcb && avail >= 9) {
        uint64_t bits = stark_mp__get64(p + 1);
        memcpy(out, &bits, 8);
        r->pos += 9;
        return true;
    }
    return stark_mp__fail(r);
}

/* Reads a header whose count is in the fix form (`fix` with mask `fixmask`,
 * count in the low bits `~fixmask`) or follows one of the codes c8/c16/c32
 * (0 = no such form) as a big-endian 8/16/32-bit number. Consumes only the
 * header; *n gets the count. */
static inline bool stark_mp__read_header(stark_mp_reader *r, uint32_t *n, uint8_t fix, uint8_t fixmask,
                                         uint8_t c8, uint8_t c16, uint8_t c32) {
    if (r->failed || r->pos >= r->len) return stark_mp__fail(r);
    const uint8_t *p = r->p + r->pos;
    uint32_t avail = r->len - r->pos;
    uint8_t b = p[0];
    if (fixmask && (b & fixmask) == fix) {
        *n = b & (uint8_t)~fixmask;
        r->pos += 1;
        return true;
    }
    if (c8 && b == c8 && avail >= 2) {
        *n = p[1];
        r->pos += 2;
        return true;
    }
    if (b == c16 && avail >= 3) {
        *n = stark_mp__get16(p + 1);
        r->pos += 3;
        return true;
    }
    if (b == c32 && avail >= 5) {
        *n = stark_mp__get32(p + 1);
        r->pos += 5;
        return true;
    }
    return stark_mp__fail(r);
}

/* Reads a string (fixstr, str8, str16, str32): *s points at its `*n` bytes
 * inside the input (not NUL-terminated, not copied). Fails when the bytes run
 * past the end of the input. */
static inline bool stark_mp_read_str(stark_mp_reader *r, const char **s, uint32_t *n) {
    uint32_t mark = r->pos, len;
    if (!stark_mp__read_header(r, &len, 0xa0, 0xe0, 0xd9, 0xda, 0xdb)) return false;
    if (len > r->len - r->pos) {
        r->pos = mark;
        return stark_mp__fail(r);
    }
    *s = (const char *)(r->p + r->pos);
    *n = len;
    r->pos += len;
    return true;
}

/* Reads a binary (bin8, bin16, bin32): *data points at its `*n` bytes inside
 * the input (not copied). Fails when the bytes run past the end. */
static inline bool stark_mp_read_bin(stark_mp_reader *r, const uint8_t **data, uint32_t *n) {
    uint32_t mark = r->pos, len;
    if (!stark_mp__read_header(r, &len, 0, 0, 0xc4, 0xc5, 0xc6)) return false;
    if (len > r->len - r->pos) {
        r->pos = mark;
        return stark_mp__fail(r);
    }
    *data = r->p + r->pos;
    *n = len;
    r->pos += len;
    return true;
}

/* Reads an array header (fixarray, array16, array32) into *n; the caller
 * reads the *n elements next. Fails when the input cannot hold *n elements
 * (each takes at least one byte), so *n is safe to size things with. */
static inline bool stark_mp_read_array(stark_mp_reader *r, uint32_t *n) {
    uint32_t mark = r->pos, count;
    if (!stark_mp__read_header(r, &count, 0x90, 0xf0, 0, 0xdc, 0xdd)) return false;
    if (count > r->len - r->pos) {
        r->pos = mark;
        return stark_mp__fail(r);
    }
    *n = count;
    return true;
}

/* Reads a map header (fixmap, map16, map32) into *n (pairs); the caller reads
 * the 2 * *n keys and values next. Fails when the input cannot hold them. */
static inline bool stark_mp_read_map(stark_mp_reader *r, uint32_t *n) {
    uint32_t mark = r->pos, count;
    if (!stark_mp__read_header(r, &count, 0x80, 0xf0, 0, 0xde, 0xdf)) return false;
    if ((uint64_t)count * 2 > r->len - r->pos) {
        r->pos = mark;
        return stark_mp__fail(r);
    }
    *n = count;
    return true;
}

/* Skips one complete value of any kind, nested arrays and maps included
 * (iteratively: no recursion, whatever the nesting depth). Fails (consuming
 * nothing) when the value is truncated or malformed. */
static inline bool stark_mp_skip(stark_mp_reader *r) {
    if (r->failed) return false;
    uint32_t mark = r->pos;
    uint64_t pending = 1; /* values still to skip */
    while (pending) {
        pending--;
        if (r->pos >= r->len) goto bad;
        const uint8_t *p = r->p + r->pos;
        uint32_t avail = r->len - r->pos;
        uint8_t b = p[0];
        uint64_t size = 1;  /* header bytes */
        uint64_t body = 0;  /* payload bytes after the header */
        uint64_t items = 0; /* nested values after the header */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            items = 2u * (b & 0x0fu);
        } else if (b <= 0x9f) {
            items = b & 0x0fu;
        } else if (b <= 0xbf) {
            body = b & 0x1fu;
        } else {
            switch (b) {
            case 0xcc: case 0xd0: size = 2; break;
            case 0xcd: case 0xd1: size = 3; break;
            case 0xce: case 0xd2: case 0xca: size = 5; break;
            case 0xcf: case 0xd3: case 0xcb: size = 9; break;
            case 0xd4: size = 3; break;  /* fixext 1: type + 1 */
            case 0xd5: size = 4; break;  /* fixext 2 */
            case 0xd6: size = 6; break;  /* fixext 4 */
            case 0xd7: size = 10; break; /* fixext 8 */
            case 0xd8: size = 18; break; /* fixext 16 */
            case 0xc4: case 0xd9:
                if (avail < 2) goto bad;
                size = 2; body = p[1]; break;
            case 0xc5: case 0xda:
                if (avail < 3) goto bad;
                size = 3; body = stark_mp__get16(p + 1); break;
            case 0xc6: case 0xdb:
                if (avail < 5) goto bad;
                size = 5; body = stark_mp__get32(p + 1); break;
            case 0xc7: /* ext 8: len, type */
                if (avail < 3) goto bad;
                size = 3; body = p[1]; break;
            case 0xc8:
                if (avail < 4) goto bad;
                size = 4; body = stark_mp__get16(p + 1); break;
            case 0xc9:
                if (avail < 6) goto bad;
                size = 6; body = stark_mp__get32(p + 1); break;
            case 0xdc:
                if (avail < 3) goto bad;
                size = 3; items = stark_mp__get16(p + 1); break;
            case 0xdd:
                if (avail < 5) goto bad;
                size = 5; items = stark_mp__get32(p + 1); break;
            case 0xde:
                if (avail < 3) goto bad;
                size = 3; items = 2u * (uint64_t)stark_mp__get16(p + 1); break;
            case 0xdf:
                if (avail < 5) goto bad;
                size = 5; items = 2u * (uint64_t)stark_mp__get32(p + 1); break;
            default: goto bad; /* 0xc1 */
            }
        }
        if (size + body > avail) goto bad;
        r->pos += (uint32_t)(size + body);
        pending += items;
        /* each pending value needs at least one byte: stop early on bogus counts */
        if (pending > r->len - r->pos) goto bad;
    }
    return true;
bad:
    r->pos = mark;
    return stark_mp__fail(r);
}

/* True when the `n` bytes at `s` (e.g. from stark_mp_read_str) equal the
 * NUL-terminated `lit`. */
static inline bool stark_mp_str_is(const char *s, uint32_t n, const char *lit) {
    size_t m = strlen(lit);
    return m == n && memcmp(s, lit, n) == 0;
}

#ifdef __cplusplus
}
#endif

#endif /* STARK_GUEST_H */

/* ------------------------------------------------------------------------ */
/* The exports: only in the one file that defines STARK_GUEST_IMPLEMENTATION. */
/* ------------------------------------------------------------------------ */

/* Outside the include guard on purpose: a file may include the header once
 * without STARK_GUEST_IMPLEMENTATION (through another header) and once with
 * it. STARK__IMPLEMENTED keeps the exports from being defined twice. */
#if defined(STARK_GUEST_IMPLEMENTATION) && !defined(STARK__IMPLEMENTED)
#define STARK__IMPLEMENTED 1

#include <stdlib.h>

#define STARK__EXPORT(name) __attribute__((export_name(name)))

#ifdef __cplusplus
extern "C" {
#endif

/* The author's callbacks (defined in the implementation file). */
int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len);
#ifdef STARK_GUEST_INIT
int32_t stark_on_init(const uint8_t *data, uint32_t len);
#endif
#ifdef STARK_GUEST_STOP
void stark_on_stop(void);
#endif
#ifdef STARK_GUEST_SNAPSHOT
int32_t stark_on_snapshot(void);
#endif
#ifdef STARK_GUEST_RESTORE
int32_t stark_on_restore(const uint8_t *data, uint32_t len);
#endif

/* The exports, with the signatures of the contract. */
int32_t stark_abi_version(void);
void *stark_alloc(uint32_t size);
void stark_free(void *ptr);
int32_t stark_handle(uint32_t tag, const uint8_t *ptr, uint32_t len);

#ifndef STARK_GUEST_CUSTOM_ABI_VERSION
/* () -> i32: the contract's major version. */
STARK__EXPORT("stark_abi_version")
int32_t stark_abi_version(void) { return STARK_ABI_VERSION; }
#endif

/* (size i32) -> i32: `size` writable bytes for the host, 0 when out of
 * memory (malloc's NULL; the host then fails the actor). */
STARK__EXPORT("stark_alloc")
void *stark_alloc(uint32_t size) { return malloc(size); }

/* (ptr i32): the host gives back a region it had from stark_alloc. */
STARK__EXPORT("stark_free")
void stark_free(void *ptr) { free(ptr); }

#ifndef STARK_GUEST_NO_BATCH
/* Where `next` writes the next message. Static rather than on the shadow
 * stack: a handler is never re-entered, and this saves a stack-pointer
 * adjustment per call. */
static stark_msg_info stark__next_info;
#endif

/* (tag i32, ptr i32, len i32) -> i32: handles the message, then, while the
 * handler returns STARK_OK, asks the host for the next queued one with
 * `next` and handles it in the same call. A non-zero status is returned at
 * once (`next` is never called after a failure: the failure belongs to the
 * message in hand). */
STARK__EXPORT("stark_handle")
int32_t stark_handle(uint32_t tag, const uint8_t *ptr, uint32_t len) {
#ifdef STARK_GUEST_NO_BATCH
    return stark_on_message(tag, ptr, len);
#else
    for (;;) {
        int32_t st = stark_on_message(tag, ptr, len);
        if (st != STARK_OK) return st;
        if (stark_raw_next(&stark__next_info) == 0) return STARK_OK;
        tag = stark__next_info.tag;
        ptr = (const uint8_t *)(uintptr_t)stark__next_info.ptr;
        len = stark__next_info.len;
    }
#endif
}

#ifdef STARK_GUEST_INIT
int32_t stark_init(const uint8_t *ptr, uint32_t len);
/* (ptr i32, len i32) -> i32: once per instance, after _initialize, with the
 * spawn's init bytes (len may be 0). */
STARK__EXPORT("stark_init")
int32_t stark_init(const uint8_t *ptr, uint32_t len) { return stark_on_init(ptr, len); }
#endif

#ifdef STARK_GUEST_STOP
void stark_stop(void);
/* (): before the instance is dropped at a stop or a restart. */
STARK__EXPORT("stark_stop")
void stark_stop(void) { stark_on_stop(); }
#endif

#ifdef STARK_GUEST_SNAPSHOT
int32_t stark_snapshot(void);
/* () -> i32: at a hot upgrade, on the old instance; hands the state over
 * with stark_save. */
STARK__EXPORT("stark_snapshot")
int32_t stark_snapshot(void) { return stark_on_snapshot(); }
#endif

#ifdef STARK_GUEST_RESTORE
int32_t stark_restore(const uint8_t *ptr, uint32_t len);
/* (ptr i32, len i32) -> i32: at a hot upgrade, on the new instance after
 * stark_init, with what the old instance saved. */
STARK__EXPORT("stark_restore")
int32_t stark_restore(const uint8_t *ptr, uint32_t len) { return stark_on_restore(ptr, len); }
#endif

#ifdef __cplusplus
}
#endif

#endif /* STARK_GUEST_IMPLEMENTATION */
