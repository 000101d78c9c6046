// The calling thread's last error (abi/stark.h: stark_last_error). Go sets
// it through stark__set_error on the thread that made the failing call:
// an exported function runs on the calling thread for its whole duration.
#include <string.h>
#include "stark.h"

#define STARK_ERROR_MAX 1024

static _Thread_local char stark__error[STARK_ERROR_MAX];

__attribute__((visibility("hidden"))) void stark__set_error(const char *msg, size_t n) {
    if (n >= STARK_ERROR_MAX) n = STARK_ERROR_MAX - 1;
    memcpy(stark__error, msg, n);
    stark__error[n] = 0;
}

const char *stark_last_error(void) { return stark__error; }

const char *stark_status_name(stark_status s) {
    static const char *names[] = {
        "ok", "invalid argument", "not found", "timeout", "mailbox full", "exhausted",
        "stopped", "unsupported", "internal error", "denied", "too large", "actor failed",
    };
    if (s < 0 || (size_t)s >= sizeof names / sizeof names[0]) return "unknown status";
    return names[s];
}
