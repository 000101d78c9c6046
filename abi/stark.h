/*
 * stark.h - the C ABI of STARK, an actor runtime for concurrent AI/ML systems.
 *
 * Link with libstark.so (pkg-config --cflags --libs stark). One prefix,
 * opaque handles, a status from every call:
 *
 *   #include <stark.h>
 *
 *   static stark_status echo(stark_ctx ctx, const stark_msg *m, void *ud) {
 *       return stark_ctx_reply(ctx, m->tag, m->data, m->len);
 *   }
 *
 *   stark_runtime rt;
 *   stark_ref ref;
 *   stark_actor_def def = { sizeof def, 0, echo };
 *   stark_reply r = { sizeof r };
 *   if (stark_runtime_new(NULL, &rt) != STARK_OK) { puts(stark_last_error()); ... }
 *   stark_spawn(rt, &def, NULL, &ref);
 *   stark_ask(rt, ref, 1, "hi", 2, 1000000000, &r);   // r.data = "hi"
 *   stark_reply_free(&r);
 *   stark_runtime_free(rt);
 *
 * Conventions that hold for every function below unless it says otherwise:
 *
 *   - It returns a stark_status: STARK_OK, or a code saying what went wrong;
 *     stark_last_error() then returns a readable message for the calling
 *     thread. Nothing here aborts the process because of bad input: NULL
 *     pointers, stale or forged handles, zero or oversized lengths, a double
 *     release, use after shutdown all return a status.
 *   - Handles (stark_runtime, stark_ref, stark_buffer, ...) are 64-bit
 *     values, never pointers: a handle that was freed (or never existed)
 *     returns STARK_NOT_FOUND, never a crash, and is never mistaken for a
 *     newer object. 0 is never a valid handle.
 *   - Pointers passed in are only read during the call unless the function
 *     says it keeps them: the library copies what it needs.
 *   - Structs that may grow carry struct_size first: set it to sizeof the
 *     struct you compiled against; the library reads and writes only that
 *     much, so a program built against an older header keeps working.
 *     A NULL pointer to an options struct means "all defaults".
 *   - Every function is safe to call from any thread, including from inside
 *     an actor's handler (callbacks run on the runtime's worker threads and
 *     may call back into the ABI), unless it says otherwise.
 *   - Durations are nanoseconds (uint64_t); 0 means "the default" where a
 *     default exists.
 *
 * New behaviour is added as new functions and new trailing struct fields,
 * never by changing existing ones (STARK_ABI_VERSION_MINOR grows); a
 * change that breaks compatibility bumps STARK_ABI_VERSION_MAJOR, which is
 * also the library's SONAME (libstark.so.1).
 */
#ifndef STARK_H
#define STARK_H

#include <stddef.h>
#include <stdint.h>

#include "stark_device.h" /* op kinds (STARK_OP_*), dtypes (STARK_DT_*), device types */

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Versions, statuses, errors
 * ---------------------------------------------------------------------- */

#define STARK_ABI_VERSION_MAJOR 1
#define STARK_ABI_VERSION_MINOR 0
/* (major << 16) | minor */
#define STARK_ABI_VERSION ((STARK_ABI_VERSION_MAJOR << 16) | STARK_ABI_VERSION_MINOR)

/* The version the loaded library implements, as STARK_ABI_VERSION. A
 * program checks at start-up that the major matches the header it was built
 * with and that the minor is at least as new (bindings do this at import):
 *     if (!STARK_ABI_COMPATIBLE(stark_abi_version())) ... */
uint32_t stark_abi_version(void);

/* True when a library reporting version v serves a program built with this
 * header: the same major, a minor at least as new. */
#define STARK_ABI_COMPATIBLE(v) \
    ((((uint32_t)(v)) >> 16) == STARK_ABI_VERSION_MAJOR && ((uint32_t)(v)) >= (uint32_t)STARK_ABI_VERSION)

typedef int32_t stark_status;

#define STARK_OK 0          /* done */
#define STARK_INVALID 1     /* a bad argument: NULL pointer, bad length, bad option */
#define STARK_NOT_FOUND 2   /* unknown, stale or forged handle or ref; unknown name */
#define STARK_TIMEOUT 3     /* a deadline passed (ask, poll) */
#define STARK_FULL 4        /* the target's mailbox is full */
#define STARK_EXHAUSTED 5   /* a limit was reached: buffer pool bytes, actor table */
#define STARK_STOPPED 6     /* the target actor, poller or runtime is stopping or stopped */
#define STARK_UNSUPPORTED 7 /* not available here */
#define STARK_INTERNAL 8    /* a bug in the library; the message says more */
#define STARK_DENIED 9      /* not granted (WASM sandbox) */
#define STARK_TOO_LARGE 10  /* a payload or a request over a limit */
#define STARK_FAILED 11     /* the actor failed while handling the message (ask) */

/* The message of the calling thread's last failed call: a NUL-terminated
 * string owned by the library, valid until the next failing call on the
 * same thread. "" when no call has failed on this thread. Never NULL. */
const char *stark_last_error(void);

/* A static name for a status ("ok", "invalid argument", ...); never NULL. */
const char *stark_status_name(stark_status status);

/* ------------------------------------------------------------------------
 * Handles and messages
 * ---------------------------------------------------------------------- */

typedef uint64_t stark_runtime; /* a runtime */
typedef uint64_t stark_ref;     /* an actor: slot and generation; 0 names nobody */
typedef uint64_t stark_ctx;     /* an actor's view of the runtime, valid only during a callback */
typedef uint64_t stark_buffer;  /* a pooled, reference-counted byte buffer */
typedef uint64_t stark_timer;   /* a pending stark_send_after / stark_send_every */
typedef uint64_t stark_module;  /* a compiled WASM module */
typedef uint64_t stark_poller;  /* a polled mailbox shared by polled actors */

/* One message as a native handler sees it. Valid only during the callback:
 * copy what you need later (or take the buffer with stark_ctx_take_buffer). */
typedef struct stark_msg {
    uint32_t struct_size;
    uint32_t tag;        /* the sender's tag; tags >= 0xFFFFFF00 are the runtime's */
    stark_ref sender;    /* 0 when the sender is outside the runtime */
    uint64_t corr_id;    /* correlation id of a request, 0 if none */
    const void *data;    /* the payload (never NULL; may be empty) */
    size_t len;          /* its length in bytes */
    stark_buffer buffer; /* non-zero when the payload is a pooled buffer: data points into it */
    uint32_t is_ask;     /* 1 when a caller waits for a reply (stark_ctx_reply answers it) */
    uint32_t reserved;
    uint64_t device_buffer; /* non-zero: the payload is a device buffer (stark_dbuf), see stark_ctx_take_device_buffer */
} stark_msg;

/* A native actor's handler. Runs on a runtime worker thread, one message at
 * a time per actor (never concurrently for the same actor). It may call any
 * stark_ctx_* function with ctx, and any other function of this header.
 * STARK_OK: the message was handled. Any other status fails the actor: the
 * message is dead-lettered with that status as its cause and the reason
 * given to stark_ctx_fail, a waiting ask ends with STARK_FAILED, and the
 * actor's supervisor decides (by default: restart, keeping the mailbox).
 * The user data is the same across restarts: state kept there survives a
 * restart (reset it in on_start if it should not). */
typedef stark_status (*stark_handler_fn)(stark_ctx ctx, const stark_msg *msg, void *user_data);

/* A lifecycle hook (start: at spawn and after each restart, before the
 * first message; stop: when an incarnation ends). A start hook that
 * returns non-OK fails the actor. msg functions on ctx see no message. */
typedef stark_status (*stark_hook_fn)(stark_ctx ctx, void *user_data);

/* Frees user_data; called exactly once, after the actor (for a supervisor
 * child spec: the supervisor) has terminated, on a runtime thread. */
typedef void (*stark_free_fn)(void *user_data);

/* A native actor: callbacks plus user data, owned by the runtime from a
 * successful spawn until free_user_data runs. */
typedef struct stark_actor_def {
    uint32_t struct_size;
    uint32_t flags;             /* reserved, 0 */
    stark_handler_fn handle;    /* required */
    stark_hook_fn on_start;     /* optional */
    stark_hook_fn on_stop;      /* optional */
    void *user_data;            /* passed to every callback */
    stark_free_fn free_user_data; /* optional */
} stark_actor_def;

/* What a send does when the target's mailbox is full. */
#define STARK_OVERFLOW_FAIL 0 /* refuse with STARK_FULL (and a dead letter) */
#define STARK_OVERFLOW_WAIT 1 /* block the sender up to overflow_wait_ns, then STARK_FULL */
#define STARK_OVERFLOW_DROP 2 /* drop to dead letters, report STARK_OK */

typedef struct stark_spawn_opts {
    uint32_t struct_size;
    uint32_t mailbox_capacity; /* 0: the runtime's default */
    const char *name;          /* NULL: none; else registered (STARK_INVALID if taken) */
    uint32_t overflow;         /* STARK_OVERFLOW_* */
    uint32_t reserved;
    uint64_t overflow_wait_ns; /* for STARK_OVERFLOW_WAIT; 0: the ask timeout */
    uint64_t shutdown_timeout_ns; /* graceful stop bound before a kill; 0: default */
} stark_spawn_opts;

/* A reply from stark_ask. The caller owns data (and buffer, if non-zero)
 * and frees both with stark_reply_free. */
typedef struct stark_reply {
    uint32_t struct_size;
    uint32_t tag;
    stark_ref sender;
    void *data;          /* malloc'ed copy of the payload, or points into buffer */
    size_t len;
    stark_buffer buffer; /* non-zero when the reply was a pooled buffer (zero copy) */
} stark_reply;

/* ------------------------------------------------------------------------
 * Runtime
 * ---------------------------------------------------------------------- */

typedef struct stark_config {
    uint32_t struct_size;
    uint32_t workers;             /* scheduler threads; 0: one per core */
    uint32_t mailbox_capacity;    /* default mailbox capacity; 0: 4096 */
    uint32_t budget;              /* messages per actor turn; 0: 128 */
    uint32_t max_actors;          /* 0: 16,777,216 */
    uint32_t reserved0;
    uint64_t ask_timeout_ns;      /* asks without a timeout; 0: 5 s */
    uint64_t shutdown_timeout_ns; /* graceful stop of a child; 0: 5 s */
    uint64_t pool_limit_bytes;    /* live bytes of pooled buffers; 0: 1 GiB */
    const char *wasm_cache_dir;   /* on-disk cache of compiled WASM; NULL: none */
    uint32_t wasm_memory_pages;   /* default WASM memory limit; 0: 1024 (64 MiB) */
    uint32_t reserved1;
    uint64_t wasm_deadline_ns;    /* default WASM per-message deadline; 0: 1 s */
    const char *device;           /* device backend to use ("cpu", "vulkan", "cuda", ...);
                                     NULL: $STARK_DEVICE, else the best score */
    const char *backend_path;     /* extra plugin directories (colon-separated), searched
                                     before $STARK_BACKEND_PATH and lib/stark next to libstark */
} stark_config;

/* Fills *cfg with the defaults (all zero) and sets struct_size. */
stark_status stark_config_init(stark_config *cfg);

/* Creates and starts a runtime. cfg may be NULL (defaults). On success *out
 * is a handle the caller frees with stark_runtime_free.
 * STARK_INVALID: NULL out, a bad struct_size. */
stark_status stark_runtime_new(const stark_config *cfg, stark_runtime *out);

/* Stops every actor children-first, letting each handle what it has queued;
 * after timeout_ns (0: 5 s) the rest is killed and its messages
 * dead-lettered. Idempotent. The handle stays valid for stark_counters and
 * stark_runtime_metrics; everything else returns STARK_STOPPED.
 * STARK_TIMEOUT: the deadline passed and actors were killed. */
stark_status stark_runtime_shutdown(stark_runtime rt, uint64_t timeout_ns);

/* Shuts down (if not yet) and releases the handle and everything it owns:
 * buffers, modules, pollers and timers still held become stale. */
stark_status stark_runtime_free(stark_runtime rt);

typedef struct stark_metrics {
    uint32_t struct_size;
    uint32_t workers;
    uint64_t actors;             /* live actors */
    uint64_t accepted;           /* messages accepted by mailboxes */
    uint64_t processed;          /* ... handled */
    uint64_t dead_lettered;      /* ... dead-lettered */
    uint64_t queued;             /* ... still queued */
    uint64_t failures;           /* handler failures */
    uint64_t restarts;
    uint64_t escalations;        /* failures that reached the root */
    uint64_t dead_letters;       /* every dead letter, accepted or refused at the door */
    uint64_t pool_live_bytes;
    uint64_t pool_peak_bytes;
    uint64_t pool_cached_bytes;
    uint64_t pool_limit_bytes;
    uint64_t sched_runs;
    uint64_t sched_steals;
    uint64_t sched_parks;
    uint64_t wasm_instances;
    uint64_t wasm_compiles;
} stark_metrics;

/* A snapshot of the runtime's counters (walks the actor table). */
stark_status stark_runtime_metrics(stark_runtime rt, stark_metrics *out);

/* Conservation counters: accepted = processed + dead_lettered + queued at
 * every quiescent point. For ref, or the whole runtime when ref is 0. */
typedef struct stark_counters {
    uint32_t struct_size;
    uint32_t reserved;
    uint64_t accepted;
    uint64_t processed;
    uint64_t dead_lettered;
    uint64_t queued;
} stark_counters;

stark_status stark_counters_get(stark_runtime rt, stark_ref ref, stark_counters *out);

/* One recent dead letter. */
typedef struct stark_dead_letter {
    uint32_t struct_size;
    uint32_t tag;
    stark_ref target;
    stark_ref sender;
    uint64_t size;          /* payload bytes */
    int64_t at_unix_ns;
    stark_status cause;     /* the reason as a status (STARK_FULL, STARK_FAILED, ...) */
    char reason[236];       /* the reason's message, NUL-terminated, truncated */
} stark_dead_letter;

/* Copies up to cap of the most recent dead letters (oldest first) into
 * items and stores how many in *n. items[0].struct_size is the element
 * size the caller was compiled with (0 means sizeof(stark_dead_letter)). */
stark_status stark_dead_letters(stark_runtime rt, stark_dead_letter *items, size_t cap, size_t *n);

/* ------------------------------------------------------------------------
 * Native actors
 * ---------------------------------------------------------------------- */

/* Spawns a top-level native actor. opts may be NULL. On success *out is
 * its ref. Ownership of def's user_data: after STARK_INVALID (a bad
 * argument) nothing was taken; after any other result the runtime owns it
 * and calls free_user_data once, after the actor terminated (at once when
 * it never started). */
stark_status stark_spawn(stark_runtime rt, const stark_actor_def *def, const stark_spawn_opts *opts,
                         stark_ref *out);

/* Graceful stop: the actor handles what is queued, refuses new messages,
 * stops its children, then terminates. Returns at once. */
stark_status stark_stop(stark_runtime rt, stark_ref ref);

/* Stop after the message in hand; queued messages are dead-lettered. */
stark_status stark_kill(stark_runtime rt, stark_ref ref);

/* STARK_OK when ref is alive, STARK_NOT_FOUND when not. */
stark_status stark_alive(stark_runtime rt, stark_ref ref);

/* ------------------------------------------------------------------------
 * Sending
 * ---------------------------------------------------------------------- */

/* Sends len bytes (copied) to `to`, from outside the runtime. data may be
 * NULL only when len is 0. The target's overflow policy applies.
 * STARK_NOT_FOUND: stale ref. STARK_FULL: mailbox full. STARK_STOPPED. */
stark_status stark_send(stark_runtime rt, stark_ref to, uint32_t tag, const void *data, size_t len);

/* As stark_send, but a full mailbox is STARK_FULL at once, whatever the
 * target's policy. */
stark_status stark_try_send(stark_runtime rt, stark_ref to, uint32_t tag, const void *data, size_t len);

/* As stark_send, with `from` as the sender (replies go to it): for actors
 * whose handlers run outside the runtime (polled actors). */
stark_status stark_send_from(stark_runtime rt, stark_ref from, stark_ref to, uint32_t tag, const void *data,
                             size_t len);

/* Sends a request from `from` whose reply comes back to `from` as an
 * ordinary message carrying the same corr_id (*corr_id receives it): the
 * non-blocking ask of actors whose handlers run outside the runtime (a
 * polled actor waits for the reply item instead of blocking a thread). */
stark_status stark_request(stark_runtime rt, stark_ref from, stark_ref to, uint32_t tag, const void *data,
                           size_t len, uint64_t *corr_id);

/* Sends a pooled buffer without copying: the caller's reference moves into
 * the message whatever the result (on failure the runtime releases it), so
 * buf is stale for the caller after this call. */
stark_status stark_send_buffer(stark_runtime rt, stark_ref to, uint32_t tag, stark_buffer buf);

/* Sends a request and waits up to timeout_ns (0: the runtime's ask
 * timeout) for the reply. *out (struct_size set by the caller) receives the
 * reply, owned by the caller: free it with stark_reply_free.
 * STARK_TIMEOUT; STARK_FAILED: the actor failed on this message (the
 * reason is in stark_last_error); STARK_NOT_FOUND; STARK_FULL; STARK_STOPPED. */
stark_status stark_ask(stark_runtime rt, stark_ref to, uint32_t tag, const void *data, size_t len,
                       uint64_t timeout_ns, stark_reply *out);

/* Frees what a reply holds (data and buffer) and zeroes it. NULL and an
 * already freed reply are fine. */
stark_status stark_reply_free(stark_reply *reply);

/* ------------------------------------------------------------------------
 * Inside a handler: stark_ctx
 *
 * ctx is valid only during the callback it was given to, on that thread;
 * using it later returns STARK_INVALID.
 * ---------------------------------------------------------------------- */

stark_status stark_ctx_self(stark_ctx ctx, stark_ref *out);
stark_status stark_ctx_runtime(stark_ctx ctx, stark_runtime *out);

/* Sends with this actor as the sender; an idle target runs next on this
 * worker (cheapest send there is). */
stark_status stark_ctx_send(stark_ctx ctx, stark_ref to, uint32_t tag, const void *data, size_t len);
stark_status stark_ctx_send_buffer(stark_ctx ctx, stark_ref to, uint32_t tag, stark_buffer buf);

/* Posts a message from inside a handler without leaving C: the bytes are
 * copied into the callback's outbox and delivered, in order, when the
 * handler returns (before its next message). It is the cheapest send there
 * is (no call into the runtime), at a price: a refusal (stale ref, full
 * mailbox) cannot be reported here and becomes a dead letter instead.
 * STARK_FULL: the outbox holds 1024 messages / 64 KiB per handler call
 * (use stark_ctx_send for more); STARK_TOO_LARGE: one payload over 64 KiB.
 * STARK_INVALID: ctx is not the running callback's on this thread. Sends made with stark_ctx_send during the
 * same callback are delivered at once, so they overtake posted ones. */
stark_status stark_ctx_post(stark_ctx ctx, stark_ref to, uint32_t tag, const void *data, size_t len);

/* Answers the message in hand: the waiting ask, or a message to its
 * sender. STARK_NOT_FOUND: nobody to answer. A second reply to the same ask
 * is STARK_TIMEOUT (the ask already ended). */
stark_status stark_ctx_reply(stark_ctx ctx, uint32_t tag, const void *data, size_t len);
stark_status stark_ctx_reply_buffer(stark_ctx ctx, uint32_t tag, stark_buffer buf);

/* Takes the pooled buffer of the message in hand: the caller now owns one
 * reference and releases it with stark_buffer_release. Without it the
 * runtime releases the buffer when the handler returns.
 * STARK_NOT_FOUND: the message carries no buffer. */
stark_status stark_ctx_take_buffer(stark_ctx ctx, stark_buffer *out);

/* Spawns a child of this actor (supervised by it: a failing child is
 * restarted by default). */
stark_status stark_ctx_spawn(stark_ctx ctx, const stark_actor_def *def, const stark_spawn_opts *opts,
                             stark_ref *out);

/* Records why the handler is about to return a failure status: the text
 * becomes the failure's reason (dead letter, supervisor, failed ask). */
stark_status stark_ctx_fail(stark_ctx ctx, const char *reason);

/* ------------------------------------------------------------------------
 * Names, topics, timers
 * ---------------------------------------------------------------------- */

/* Registers ref under name (STARK_INVALID if the name is taken by a live
 * actor); released when the actor terminates. */
stark_status stark_register(stark_runtime rt, const char *name, stark_ref ref);
stark_status stark_unregister(stark_runtime rt, const char *name);
stark_status stark_lookup(stark_runtime rt, const char *name, stark_ref *out);

/* Topics: publish delivers a copy to every live subscriber; *delivered (may
 * be NULL) says how many accepted it. */
stark_status stark_subscribe(stark_runtime rt, const char *topic, stark_ref ref);
stark_status stark_unsubscribe(stark_runtime rt, const char *topic, stark_ref ref);
stark_status stark_publish(stark_runtime rt, const char *topic, uint32_t tag, const void *data, size_t len,
                           uint32_t *delivered);

/* Timers: deliver the bytes (copied now) to `to` after delay_ns, or every
 * period_ns until cancelled or the target is gone. *out may be NULL. */
stark_status stark_send_after(stark_runtime rt, uint64_t delay_ns, stark_ref to, uint32_t tag, const void *data,
                              size_t len, stark_timer *out);
stark_status stark_send_every(stark_runtime rt, uint64_t period_ns, stark_ref to, uint32_t tag,
                              const void *data, size_t len, stark_timer *out);
/* STARK_OK: stopped before it fired (a periodic timer: stopped); the handle
 * is released either way. STARK_NOT_FOUND: unknown or already cancelled. */
stark_status stark_timer_cancel(stark_runtime rt, stark_timer timer);

/* ------------------------------------------------------------------------
 * Supervisors
 * ---------------------------------------------------------------------- */

#define STARK_PERMANENT 0 /* always restarted, also after a normal stop */
#define STARK_TRANSIENT 1 /* restarted only after a failure */
#define STARK_TEMPORARY 2 /* never restarted */

#define STARK_ONE_FOR_ONE 0
#define STARK_ONE_FOR_ALL 1
#define STARK_REST_FOR_ONE 2

#define STARK_BACKOFF_NONE 0
#define STARK_BACKOFF_LINEAR 1      /* backoff_ns * attempt, up to backoff_max_ns */
#define STARK_BACKOFF_EXPONENTIAL 2 /* backoff_ns * 2^(attempt-1), up to backoff_max_ns */

/* One child: a native actor (def), a WASM actor (module, wasm_opts) or a
 * polled actor (poller): exactly one of them. */
typedef struct stark_child_spec {
    uint32_t struct_size;
    uint32_t restart;              /* STARK_PERMANENT / TRANSIENT / TEMPORARY */
    const char *name;              /* optional; re-registered at every restart */
    const struct stark_actor_def *def; /* a native child; its user_data lives until the supervisor ends */
    stark_module module;           /* or a WASM child (def NULL) */
    const struct stark_wasm_opts *wasm_opts; /* optional, for a WASM child */
    uint64_t shutdown_timeout_ns;  /* 0: the runtime's default */
    uint32_t mailbox_capacity;     /* 0: default */
    uint32_t reserved;
    stark_poller poller;           /* or a polled child (def NULL, module 0) */
} stark_child_spec;

typedef struct stark_supervisor_spec {
    uint32_t struct_size;
    uint32_t strategy;         /* STARK_ONE_FOR_ONE / ONE_FOR_ALL / REST_FOR_ONE */
    int32_t max_restarts;      /* within period_ns; 0: 3; negative: none allowed */
    uint32_t backoff;          /* STARK_BACKOFF_* */
    uint64_t period_ns;        /* 0: 5 s */
    uint64_t backoff_ns;
    uint64_t backoff_max_ns;
    double jitter;             /* 0..1, a fraction of each delay */
    const stark_child_spec *children;
    size_t n_children;
    const char *name;          /* optional name of the supervisor */
} stark_supervisor_spec;

/* Starts a supervisor and its children in order; returns when all have
 * started (or one failed to: the partial tree is killed and the status
 * says why). The specs are copied. Ownership of the native children's
 * user_data: after STARK_INVALID nothing was taken; after any other result
 * the runtime owns it and calls free_user_data once the supervisor has
 * terminated. */
stark_status stark_supervisor_start(stark_runtime rt, const stark_supervisor_spec *spec, stark_ref *out);

/* ------------------------------------------------------------------------
 * Pooled buffers (zero copy)
 *
 * Memory from the runtime's pool, outside any garbage collector: the data
 * pointer stays valid while the caller holds a reference. Sending a buffer
 * moves a reference into the message.
 * ---------------------------------------------------------------------- */

/* A buffer of size bytes (contents unspecified) with one reference.
 * STARK_EXHAUSTED: the pool's byte limit; STARK_TOO_LARGE: can never fit. */
stark_status stark_buffer_alloc(stark_runtime rt, size_t size, stark_buffer *out);

/* The buffer's bytes and length; data may be NULL when only len is wanted. */
stark_status stark_buffer_data(stark_runtime rt, stark_buffer buf, void **data, size_t *len);

/* Sets the length (at most the capacity the buffer was allocated with). */
stark_status stark_buffer_set_len(stark_runtime rt, stark_buffer buf, size_t len);

/* Adds a reference (shared by the same handle). */
stark_status stark_buffer_retain(stark_runtime rt, stark_buffer buf);

/* Drops a reference; the last one returns the memory to the pool and makes
 * the handle stale. A release past the last is STARK_NOT_FOUND. */
stark_status stark_buffer_release(stark_runtime rt, stark_buffer buf);

/* ------------------------------------------------------------------------
 * WASM actors (docs/wasm-abi.md)
 * ---------------------------------------------------------------------- */

#define STARK_WASM_TRUSTED 1u /* compile without interruption checks: no deadline (code you control) */

/* Validates and compiles a module (once: the same bytes return the same
 * module). name (may be NULL) appears in errors. STARK_INVALID: not
 * WebAssembly, or it does not fit the guest contract (the message names
 * what is missing or mistyped). The module lives until stark_module_free
 * or the runtime is freed. */
stark_status stark_wasm_load(stark_runtime rt, const void *bytes, size_t len, const char *name, uint32_t flags,
                             stark_module *out);
stark_status stark_wasm_load_file(stark_runtime rt, const char *path, uint32_t flags, stark_module *out);

/* Lets guests spawn this module by name (if their options allow it). */
stark_status stark_wasm_register(stark_runtime rt, const char *name, stark_module module);

/* Drops the module: actors running it keep running. */
stark_status stark_module_free(stark_runtime rt, stark_module module);

typedef struct stark_wasm_opts {
    uint32_t struct_size;
    uint32_t memory_pages;     /* 0: the runtime's default */
    uint64_t deadline_ns;      /* per message; 0: default */
    uint64_t max_message;      /* bytes in each direction; 0: 16 MiB */
    const void *init;          /* bytes for stark_init (copied) */
    size_t init_len;
    const char *const *ro_dirs; /* "host_path:guest_path" pairs, read-only */
    size_t n_ro_dirs;
    const char *const *env;    /* names of host environment variables to pass */
    size_t n_env;
    const char *const *spawn;  /* registered module names the guest may spawn ("*": any) */
    size_t n_spawn;
} stark_wasm_opts;

/* Spawns a WASM actor running module. wasm_opts and opts may be NULL. The
 * instance starts on the actor's first turn, after this returns: a guest
 * whose stark_init refuses its init bytes fails then, like any failing
 * actor (supervised: restarted until its restart intensity is spent), and
 * the reason is in the dead letters and in a waiting ask's error. */
stark_status stark_spawn_wasm(stark_runtime rt, stark_module module, const stark_wasm_opts *wasm_opts,
                              const stark_spawn_opts *opts, stark_ref *out);

/* Replaces the module of a running WASM actor between two messages (state
 * carried when both modules support it). On failure the old module keeps
 * running and the status says why. */
stark_status stark_wasm_upgrade(stark_runtime rt, stark_ref ref, stark_module module, uint64_t timeout_ns);

/* ------------------------------------------------------------------------
 * Polled actors
 *
 * For actors whose handlers live in another runtime (Python, with its
 * GIL): instead of a callback per message from a runtime thread, one
 * foreign thread blocks in stark_poll, which returns a batch of messages
 * for any number of polled actors, and answers them in batches with
 * stark_poll_done. When the foreign side falls behind, polled actors stop
 * taking messages (their mailboxes fill and push back on senders) until it
 * catches up.
 * ---------------------------------------------------------------------- */

/* A poller holding at most capacity undelivered items (0: 1024). */
stark_status stark_poller_new(stark_runtime rt, uint32_t capacity, stark_poller *out);

/* Closes the poller: blocked and later stark_poll calls return
 * STARK_STOPPED; its actors are stopped. */
stark_status stark_poller_free(stark_runtime rt, stark_poller poller);

/* Spawns an actor whose messages are delivered through poller. */
stark_status stark_spawn_polled(stark_runtime rt, stark_poller poller, const stark_spawn_opts *opts,
                                stark_ref *out);

#define STARK_POLL_MESSAGE 0 /* a message for actor */
#define STARK_POLL_STARTED 1 /* actor (re)started: make a fresh instance */
#define STARK_POLL_STOPPED 2 /* actor terminated: drop its instance */

typedef struct stark_poll_item {
    uint32_t kind;        /* STARK_POLL_* */
    uint32_t tag;
    stark_ref actor;      /* the polled actor this is for */
    stark_ref sender;
    uint64_t token;       /* identifies the message in stark_poll_done; 0 for events */
    const void *data;     /* valid until the next stark_poll on this poller */
    size_t len;
    stark_buffer buffer;  /* non-zero: the payload is a pooled buffer, now owned by the caller */
    uint32_t is_ask;      /* a caller waits for the answer */
    uint32_t reserved;
    uint64_t corr_id;     /* the request's correlation id; on a reply, the id stark_request gave */
    uint64_t device_buffer; /* non-zero: a device buffer (stark_dbuf), now owned by the caller */
} stark_poll_item;

/* Waits up to timeout_ns (0: do not wait) until items are ready and copies
 * up to cap of them into items; *n says how many. STARK_TIMEOUT: none came
 * (*n is 0). STARK_STOPPED: the poller or the runtime closed. One thread
 * polls a poller at a time (others get STARK_INVALID). */
stark_status stark_poll(stark_runtime rt, stark_poller poller, stark_poll_item *items, size_t cap,
                        uint64_t timeout_ns, size_t *n);

/* How a polled message ended. Every message item's token must be given back
 * once: with a reply (status STARK_OK and reply set), with nothing to say
 * (status STARK_OK, no reply), or as a failure (status non-OK, data the
 * reason's text), which fails the actor like a failing native handler. */
typedef struct stark_poll_result {
    uint64_t token;
    stark_status status;
    uint32_t reply;       /* 1: answer the message with tag/data */
    uint32_t tag;
    uint32_t reserved;
    const void *data;     /* copied */
    size_t len;
} stark_poll_result;

/* Gives back a batch of tokens. Unknown or repeated tokens are skipped and
 * reported as STARK_NOT_FOUND after the rest were applied. */
stark_status stark_poll_done(stark_runtime rt, stark_poller poller, const stark_poll_result *results, size_t n);

/* ------------------------------------------------------------------------
 * Devices (docs/devices.md)
 *
 * Each runtime runs one device backend at a time: the built-in cpu backend,
 * or a plugin (libstark_<name>.so implementing abi/stark_device.h) found in
 * stark_config.backend_path, $STARK_BACKEND_PATH, or lib/stark next to
 * libstark. The backend starts at the first device call; stark_device_select
 * swaps it. Device memory is named by stark_dbuf handles, which go stale
 * (STARK_NOT_FOUND) when the backend is swapped: their memory went with it.
 * ---------------------------------------------------------------------- */

typedef uint64_t stark_dbuf; /* device memory of the runtime's current backend */

typedef struct stark_backend_info {
    uint32_t struct_size;
    uint32_t score;       /* 0: cannot run here (error says why) */
    uint32_t current;     /* 1 for the backend the runtime runs */
    uint32_t reserved;
    char name[32];
    char path[256];       /* "" for the built-in cpu backend */
    char error[192];
} stark_backend_info;

/* The backends found (the cpu backend always), best score first. */
stark_status stark_device_backends(stark_runtime rt, stark_backend_info *items, size_t cap, size_t *n);

/* Runs the backend called name (NULL or "": the best score). On failure the
 * current backend keeps running. Device buffers of the old backend go stale. */
stark_status stark_device_select(stark_runtime rt, const char *name);

/* The current backend's name (NUL-terminated, truncated to cap). */
stark_status stark_device_backend_name(stark_runtime rt, char *name, size_t cap);

typedef struct stark_device_info {
    uint32_t struct_size;
    uint32_t type;        /* STARK_DEV_TYPE_* */
    char name[128];
    char vendor[64];
    uint64_t memory_total;
    uint64_t memory_free;
    uint64_t max_alloc;
    uint64_t max_binding;
    uint32_t compute_units;
    uint32_t reserved;
} stark_device_info;

stark_status stark_device_count(stark_runtime rt, uint32_t *n);
stark_status stark_device_get_info(stark_runtime rt, uint32_t device, stark_device_info *out);

/* Device memory: bytes on device (contents unspecified), released once with
 * stark_device_release (through a caching allocator). */
stark_status stark_device_alloc(stark_runtime rt, uint32_t device, uint64_t bytes, stark_dbuf *out);
stark_status stark_device_release(stark_runtime rt, stark_dbuf buf);
stark_status stark_device_write(stark_runtime rt, stark_dbuf dst, uint64_t offset, const void *src, size_t len);
stark_status stark_device_read(stark_runtime rt, stark_dbuf src, uint64_t offset, void *dst, size_t len);
stark_status stark_device_copy(stark_runtime rt, stark_dbuf dst, uint64_t dst_offset, stark_dbuf src,
                               uint64_t src_offset, uint64_t bytes);

/* A built-in op (STARK_OP_*, semantics in stark_device.h) on device buffers. */
typedef struct stark_device_op {
    uint32_t struct_size;
    uint32_t kind;        /* STARK_OP_* */
    uint32_t dtype;       /* STARK_DT_* (F32 everywhere) */
    uint32_t reserved;
    stark_dbuf a, b, c;
    uint64_t a_offset, b_offset, c_offset; /* bytes */
    uint64_t m, n, k;
    uint64_t lda, ldb, ldc;
    uint32_t trans_a, trans_b;
    double alpha, beta;
} stark_device_op;

/* Runs op synchronously. STARK_UNSUPPORTED: the backend does not offer
 * this kind or dtype; STARK_INVALID: shapes or ranges outside the buffers. */
stark_status stark_device_run(stark_runtime rt, const stark_device_op *op);

/* Waits for everything queued on device. */
stark_status stark_device_sync(stark_runtime rt, uint32_t device);

/* Sends a device buffer by reference: the caller's handle moves into the
 * message whatever the result (stale for the caller afterwards); the
 * receiver sees it as msg->device_buffer (a native handler takes it with
 * stark_ctx_take_device_buffer, a polled actor owns it at once). */
stark_status stark_send_device_buffer(stark_runtime rt, stark_ref to, uint32_t tag, stark_dbuf buf);

/* Takes the device buffer of the message in hand (else the runtime releases
 * it when the handler returns). */
stark_status stark_ctx_take_device_buffer(stark_ctx ctx, stark_dbuf *out);

#ifdef __cplusplus
}
#endif

#endif /* STARK_H */
