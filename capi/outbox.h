// The outbox of a native callback (see outbox.c). Internal to libstark.
#ifndef STARK_OUTBOX_H
#define STARK_OUTBOX_H
#include <stdint.h>
#include "stark.h"

#define STARK__OUTBOX_MAX 1024           /* messages per handler call */
#define STARK__OUTBOX_BYTES (64 * 1024)  /* bytes of headers and payloads */

typedef struct stark__post {
    uint64_t to;
    uint32_t tag;
    uint32_t len;
    uint8_t bytes[];
} stark__post;

typedef struct stark__outbox {
    uint32_t count;
    uint32_t used;
    uint8_t data[STARK__OUTBOX_BYTES];
} stark__outbox;

void stark__outbox_begin(stark__outbox *o, stark_ctx ctx, stark__outbox **prev_o, stark_ctx *prev_ctx);
void stark__outbox_end(stark__outbox *prev_o, stark_ctx prev_ctx);
#endif
