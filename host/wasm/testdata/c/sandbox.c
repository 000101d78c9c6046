/*
 * sandbox (built to c-sandbox.wasm): probes what the WASI sandbox lets a
 * guest see. Every reply is text.
 *
 *   tag 1: payload a path. fopen(path, "r") and reply "ok:<first bytes>"
 *          or "err:cannot open".
 *   tag 2: payload a path. fopen(path, "w") and reply "ok:" or "err:cannot open".
 *   tag 3: payload a variable name. Reply its value, or "unset".
 */
#define STARK_GUEST_IMPLEMENTATION
#include "stark_guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char arg[512];
static char out[1024];

static const char *take(const uint8_t *data, uint32_t len) {
    if (len >= sizeof arg) len = sizeof arg - 1;
    memcpy(arg, data, len);
    arg[len] = 0;
    return arg;
}

static int32_t reply_text(uint32_t tag, const char *prefix, const char *text) {
    int n = snprintf(out, sizeof out, "%s%s", prefix, text);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof out) n = sizeof out - 1;
    return stark_reply(tag, out, (uint32_t)n);
}

int32_t stark_on_message(uint32_t tag, const uint8_t *data, uint32_t len) {
    switch (tag) {
    case 1: {
        FILE *f = fopen(take(data, len), "r");
        if (!f) return reply_text(tag, "err:", "cannot open");
        char buf[256];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        return reply_text(tag, "ok:", buf);
    }
    case 2: {
        FILE *f = fopen(take(data, len), "w");
        if (!f) return reply_text(tag, "err:", "cannot open");
        fclose(f);
        return reply_text(tag, "ok:", "");
    }
    case 3: {
        const char *v = getenv(take(data, len));
        return reply_text(tag, "", v ? v : "unset");
    }
    }
    return stark_reply(0, "", 0);
}
