/*
 * extism-c: the Extism comparison plugin for the WASM benchmarks, in C,
 * built with clang-14 against wasi-libc as a reactor (extism-c.wasm):
 *
 *   clang-14 --target=wasm32-wasi -mexec-model=reactor -mbulk-memory -O2 \
 *       -o build/wasm/extism-c.wasm bench/wasm/extism/c/bench.c
 *
 * The Extism C PDK is not a registry package, so the imports of the Extism
 * kernel (module "extism:host/env", as exported by the extism-runtime.wasm
 * that github.com/extism/go-sdk v1.7.1 embeds) are declared here by hand.
 * In Extism the input and output live in the kernel's memory, not the
 * plugin's: the plugin copies them in and out eight bytes per host call
 * (input_load_u64 / store_u64), as every Extism PDK does.
 *
 * Export handle: input is the msgpack array [id (uint), data (bin)]; the
 * output is the msgpack array [id + 1, data]. The msgpack is read and
 * written by hand (no library). Malformed input sets the Extism error and
 * returns 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXTISM_IMPORT(name) \
    __attribute__((import_module("extism:host/env"), import_name(name)))

typedef uint64_t extism_ptr; /* an offset in the kernel's memory */

EXTISM_IMPORT("input_length") extern uint64_t extism_input_length(void);
EXTISM_IMPORT("input_load_u8") extern uint32_t extism_input_load_u8(extism_ptr offs);
EXTISM_IMPORT("input_load_u64") extern uint64_t extism_input_load_u64(extism_ptr offs);
EXTISM_IMPORT("alloc") extern extism_ptr extism_alloc(uint64_t len);
EXTISM_IMPORT("store_u8") extern void extism_store_u8(extism_ptr offs, uint32_t v);
EXTISM_IMPORT("store_u64") extern void extism_store_u64(extism_ptr offs, uint64_t v);
EXTISM_IMPORT("output_set") extern void extism_output_set(extism_ptr offs, uint64_t len);
EXTISM_IMPORT("error_set") extern void extism_error_set(extism_ptr offs);

/* Copies the input into buf (len bytes), as the Extism PDKs do. */
static void load_input(uint8_t *buf, uint64_t len) {
    uint64_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = extism_input_load_u64(i);
        memcpy(buf + i, &v, 8);
    }
    for (; i < len; i++) buf[i] = (uint8_t)extism_input_load_u8(i);
}

/* Copies len bytes of buf into a new block of kernel memory. */
static extism_ptr store_block(const uint8_t *buf, uint64_t len) {
    extism_ptr offs = extism_alloc(len);
    uint64_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, buf + i, 8);
        extism_store_u64(offs + i, v);
    }
    for (; i < len; i++) extism_store_u8(offs + i, buf[i]);
    return offs;
}

static int32_t fail(const char *msg) {
    extism_error_set(store_block((const uint8_t *)msg, strlen(msg)));
    return 1;
}

/* Big-endian reads and writes, as msgpack wants. */
static uint64_t be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

static uint8_t *put_be(uint8_t *p, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
    return p + n;
}

/* Reads a non-negative msgpack integer at *p (advancing it); 0 on error. */
static int read_uint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    if (*p >= end) return 0;
    uint8_t t = *(*p)++;
    int n;
    int sign = 0;
    if (t <= 0x7f) {
        *out = t;
        return 1;
    }
    switch (t) {
    case 0xcc: n = 1; break;
    case 0xcd: n = 2; break;
    case 0xce: n = 4; break;
    case 0xcf: n = 8; break;
    case 0xd0: n = 1; sign = 1; break;
    case 0xd1: n = 2; sign = 1; break;
    case 0xd2: n = 4; sign = 1; break;
    case 0xd3: n = 8; sign = 1; break;
    default: return 0;
    }
    if (end - *p < n) return 0;
    uint64_t v = be(*p, n);
    *p += n;
    if (sign && (v >> (8 * n - 1)) & 1) return 0; /* negative */
    *out = v;
    return 1;
}

/* Writes v as the smallest msgpack unsigned integer. */
static uint8_t *write_uint(uint8_t *p, uint64_t v) {
    if (v <= 0x7f) {
        *p++ = (uint8_t)v;
    } else if (v <= 0xff) {
        *p++ = 0xcc;
        *p++ = (uint8_t)v;
    } else if (v <= 0xffff) {
        *p++ = 0xcd;
        p = put_be(p, v, 2);
    } else if (v <= 0xffffffffu) {
        *p++ = 0xce;
        p = put_be(p, v, 4);
    } else {
        *p++ = 0xcf;
        p = put_be(p, v, 8);
    }
    return p;
}

__attribute__((export_name("handle"))) int32_t handle(void) {
    uint64_t len = extism_input_length();
    if (len > 0xffffffffu) return fail("extism-c: input too large");
    /* Output: fixarray, id (at most 9), bin header (at most 5), data. */
    uint8_t *in = malloc(len ? len : 1);
    uint8_t *out = malloc(len + 16);
    if (!in || !out) return fail("extism-c: out of memory");
    load_input(in, len);

    const uint8_t *p = in, *end = in + len;
    uint64_t id, n = 0;
    if (p >= end || *p++ != 0x92) goto malformed;
    if (!read_uint(&p, end, &id)) goto malformed;
    if (p >= end) goto malformed;
    switch (*p++) {
    case 0xc4: if (end - p < 1) goto malformed; n = be(p, 1); p += 1; break;
    case 0xc5: if (end - p < 2) goto malformed; n = be(p, 2); p += 2; break;
    case 0xc6: if (end - p < 4) goto malformed; n = be(p, 4); p += 4; break;
    default: goto malformed;
    }
    if ((uint64_t)(end - p) != n) goto malformed; /* data, and nothing after it */

    uint8_t *q = out;
    *q++ = 0x92;
    q = write_uint(q, id + 1);
    if (n <= 0xff) {
        *q++ = 0xc4;
        q = put_be(q, n, 1);
    } else if (n <= 0xffff) {
        *q++ = 0xc5;
        q = put_be(q, n, 2);
    } else {
        *q++ = 0xc6;
        q = put_be(q, n, 4);
    }
    memcpy(q, p, n);
    q += n;

    uint64_t out_len = (uint64_t)(q - out);
    extism_output_set(store_block(out, out_len), out_len);
    free(in);
    free(out);
    return 0;

malformed:
    free(in);
    free(out);
    return fail("extism-c: input is not the msgpack array [id (uint), data (bin)]");
}
