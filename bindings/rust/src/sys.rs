//! Raw declarations mirroring `abi/stark.h` (ABI 1.0) and the constants of
//! `abi/stark_device.h` that the runtime-level API uses. Hand-written: every
//! struct is `#[repr(C)]` with the header's field order and types. Nothing
//! here is safe to call without reading the header's rules.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_void};

pub const STARK_ABI_VERSION_MAJOR: u32 = 1;
pub const STARK_ABI_VERSION_MINOR: u32 = 0;
pub const STARK_ABI_VERSION: u32 = (STARK_ABI_VERSION_MAJOR << 16) | STARK_ABI_VERSION_MINOR;

/// `STARK_ABI_COMPATIBLE(v)`: same major, minor at least as new.
pub const fn stark_abi_compatible(v: u32) -> bool {
    (v >> 16) == STARK_ABI_VERSION_MAJOR && v >= STARK_ABI_VERSION
}

pub type stark_status = i32;

pub const STARK_OK: stark_status = 0;
pub const STARK_INVALID: stark_status = 1;
pub const STARK_NOT_FOUND: stark_status = 2;
pub const STARK_TIMEOUT: stark_status = 3;
pub const STARK_FULL: stark_status = 4;
pub const STARK_EXHAUSTED: stark_status = 5;
pub const STARK_STOPPED: stark_status = 6;
pub const STARK_UNSUPPORTED: stark_status = 7;
pub const STARK_INTERNAL: stark_status = 8;
pub const STARK_DENIED: stark_status = 9;
pub const STARK_TOO_LARGE: stark_status = 10;
pub const STARK_FAILED: stark_status = 11;

pub type stark_runtime = u64;
pub type stark_ref = u64;
pub type stark_ctx = u64;
pub type stark_buffer = u64;
pub type stark_timer = u64;
pub type stark_module = u64;
pub type stark_poller = u64;
pub type stark_dbuf = u64;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct stark_msg {
    pub struct_size: u32,
    pub tag: u32,
    pub sender: stark_ref,
    pub corr_id: u64,
    pub data: *const c_void,
    pub len: usize,
    pub buffer: stark_buffer,
    pub is_ask: u32,
    pub reserved: u32,
    pub device_buffer: u64,
}

pub type stark_handler_fn = Option<
    unsafe extern "C" fn(
        ctx: stark_ctx,
        msg: *const stark_msg,
        user_data: *mut c_void,
    ) -> stark_status,
>;
pub type stark_hook_fn =
    Option<unsafe extern "C" fn(ctx: stark_ctx, user_data: *mut c_void) -> stark_status>;
pub type stark_free_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct stark_actor_def {
    pub struct_size: u32,
    pub flags: u32,
    pub handle: stark_handler_fn,
    pub on_start: stark_hook_fn,
    pub on_stop: stark_hook_fn,
    pub user_data: *mut c_void,
    pub free_user_data: stark_free_fn,
}

pub const STARK_OVERFLOW_FAIL: u32 = 0;
pub const STARK_OVERFLOW_WAIT: u32 = 1;
pub const STARK_OVERFLOW_DROP: u32 = 2;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct stark_spawn_opts {
    pub struct_size: u32,
    pub mailbox_capacity: u32,
    pub name: *const c_char,
    pub overflow: u32,
    pub reserved: u32,
    pub overflow_wait_ns: u64,
    pub shutdown_timeout_ns: u64,
}

#[repr(C)]
#[derive(Debug)]
pub struct stark_reply {
    pub struct_size: u32,
    pub tag: u32,
    pub sender: stark_ref,
    pub data: *mut c_void,
    pub len: usize,
    pub buffer: stark_buffer,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct stark_config {
    pub struct_size: u32,
    pub workers: u32,
    pub mailbox_capacity: u32,
    pub budget: u32,
    pub max_actors: u32,
    pub reserved0: u32,
    pub ask_timeout_ns: u64,
    pub shutdown_timeout_ns: u64,
    pub pool_limit_bytes: u64,
    pub wasm_cache_dir: *const c_char,
    pub wasm_memory_pages: u32,
    pub reserved1: u32,
    pub wasm_deadline_ns: u64,
    pub device: *const c_char,
    pub backend_path: *const c_char,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct stark_metrics {
    pub struct_size: u32,
    pub workers: u32,
    pub actors: u64,
    pub accepted: u64,
    pub processed: u64,
    pub dead_lettered: u64,
    pub queued: u64,
    pub failures: u64,
    pub restarts: u64,
    pub escalations: u64,
    pub dead_letters: u64,
    pub pool_live_bytes: u64,
    pub pool_peak_bytes: u64,
    pub pool_cached_bytes: u64,
    pub pool_limit_bytes: u64,
    pub sched_runs: u64,
    pub sched_steals: u64,
    pub sched_parks: u64,
    pub wasm_instances: u64,
    pub wasm_compiles: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct stark_counters {
    pub struct_size: u32,
    pub reserved: u32,
    pub accepted: u64,
    pub processed: u64,
    pub dead_lettered: u64,
    pub queued: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct stark_dead_letter {
    pub struct_size: u32,
    pub tag: u32,
    pub target: stark_ref,
    pub sender: stark_ref,
    pub size: u64,
    pub at_unix_ns: i64,
    pub cause: stark_status,
    pub reason: [c_char; 236],
}

pub const STARK_PERMANENT: u32 = 0;
pub const STARK_TRANSIENT: u32 = 1;
pub const STARK_TEMPORARY: u32 = 2;

pub const STARK_ONE_FOR_ONE: u32 = 0;
pub const STARK_ONE_FOR_ALL: u32 = 1;
pub const STARK_REST_FOR_ONE: u32 = 2;

pub const STARK_BACKOFF_NONE: u32 = 0;
pub const STARK_BACKOFF_LINEAR: u32 = 1;
pub const STARK_BACKOFF_EXPONENTIAL: u32 = 2;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct stark_child_spec {
    pub struct_size: u32,
    pub restart: u32,
    pub name: *const c_char,
    pub def: *const stark_actor_def,
    pub module: stark_module,
    pub wasm_opts: *const stark_wasm_opts,
    pub shutdown_timeout_ns: u64,
    pub mailbox_capacity: u32,
    pub reserved: u32,
    pub poller: stark_poller,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct stark_supervisor_spec {
    pub struct_size: u32,
    pub strategy: u32,
    pub max_restarts: i32,
    pub backoff: u32,
    pub period_ns: u64,
    pub backoff_ns: u64,
    pub backoff_max_ns: u64,
    pub jitter: f64,
    pub children: *const stark_child_spec,
    pub n_children: usize,
    pub name: *const c_char,
}

pub const STARK_WASM_TRUSTED: u32 = 1;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct stark_wasm_opts {
    pub struct_size: u32,
    pub memory_pages: u32,
    pub deadline_ns: u64,
    pub max_message: u64,
    pub init: *const c_void,
    pub init_len: usize,
    pub ro_dirs: *const *const c_char,
    pub n_ro_dirs: usize,
    pub env: *const *const c_char,
    pub n_env: usize,
    pub spawn: *const *const c_char,
    pub n_spawn: usize,
}

pub const STARK_POLL_MESSAGE: u32 = 0;
pub const STARK_POLL_STARTED: u32 = 1;
pub const STARK_POLL_STOPPED: u32 = 2;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct stark_poll_item {
    pub kind: u32,
    pub tag: u32,
    pub actor: stark_ref,
    pub sender: stark_ref,
    pub token: u64,
    pub data: *const c_void,
    pub len: usize,
    pub buffer: stark_buffer,
    pub is_ask: u32,
    pub reserved: u32,
    pub corr_id: u64,
    pub device_buffer: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct stark_poll_result {
    pub token: u64,
    pub status: stark_status,
    pub reply: u32,
    pub tag: u32,
    pub reserved: u32,
    pub data: *const c_void,
    pub len: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct stark_backend_info {
    pub struct_size: u32,
    pub score: u32,
    pub current: u32,
    pub reserved: u32,
    pub name: [c_char; 32],
    pub path: [c_char; 256],
    pub error: [c_char; 192],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct stark_device_info {
    pub struct_size: u32,
    pub type_: u32,
    pub name: [c_char; 128],
    pub vendor: [c_char; 64],
    pub memory_total: u64,
    pub memory_free: u64,
    pub max_alloc: u64,
    pub max_binding: u64,
    pub compute_units: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct stark_device_op {
    pub struct_size: u32,
    pub kind: u32,
    pub dtype: u32,
    pub reserved: u32,
    pub a: stark_dbuf,
    pub b: stark_dbuf,
    pub c: stark_dbuf,
    pub a_offset: u64,
    pub b_offset: u64,
    pub c_offset: u64,
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub lda: u64,
    pub ldb: u64,
    pub ldc: u64,
    pub trans_a: u32,
    pub trans_b: u32,
    pub alpha: f64,
    pub beta: f64,
}

// From abi/stark_device.h: device types, dtypes, op kinds.
pub const STARK_DEV_TYPE_OTHER: u32 = 0;
pub const STARK_DEV_TYPE_CPU: u32 = 1;
pub const STARK_DEV_TYPE_INTEGRATED: u32 = 2;
pub const STARK_DEV_TYPE_DISCRETE: u32 = 3;
pub const STARK_DEV_TYPE_VIRTUAL: u32 = 4;

pub const STARK_DT_F32: u32 = 0;
pub const STARK_DT_F16: u32 = 1;
pub const STARK_DT_BF16: u32 = 2;
pub const STARK_DT_F64: u32 = 3;

pub const STARK_OP_FILL: u32 = 1;
pub const STARK_OP_COPY: u32 = 2;
pub const STARK_OP_SCALE: u32 = 3;
pub const STARK_OP_AXPY: u32 = 4;
pub const STARK_OP_ADD: u32 = 5;
pub const STARK_OP_MUL: u32 = 6;
pub const STARK_OP_RELU: u32 = 7;
pub const STARK_OP_MATMUL: u32 = 8;
pub const STARK_OP_REDUCE_SUM: u32 = 9;
pub const STARK_OP_REDUCE_MAX: u32 = 10;
pub const STARK_OP_SOFTMAX: u32 = 11;

extern "C" {
    pub fn stark_abi_version() -> u32;
    pub fn stark_last_error() -> *const c_char;
    pub fn stark_status_name(status: stark_status) -> *const c_char;

    pub fn stark_config_init(cfg: *mut stark_config) -> stark_status;
    pub fn stark_runtime_new(cfg: *const stark_config, out: *mut stark_runtime) -> stark_status;
    pub fn stark_runtime_shutdown(rt: stark_runtime, timeout_ns: u64) -> stark_status;
    pub fn stark_runtime_free(rt: stark_runtime) -> stark_status;
    pub fn stark_runtime_metrics(rt: stark_runtime, out: *mut stark_metrics) -> stark_status;
    pub fn stark_counters_get(
        rt: stark_runtime,
        r: stark_ref,
        out: *mut stark_counters,
    ) -> stark_status;
    pub fn stark_dead_letters(
        rt: stark_runtime,
        items: *mut stark_dead_letter,
        cap: usize,
        n: *mut usize,
    ) -> stark_status;

    pub fn stark_spawn(
        rt: stark_runtime,
        def: *const stark_actor_def,
        opts: *const stark_spawn_opts,
        out: *mut stark_ref,
    ) -> stark_status;
    pub fn stark_stop(rt: stark_runtime, r: stark_ref) -> stark_status;
    pub fn stark_kill(rt: stark_runtime, r: stark_ref) -> stark_status;
    pub fn stark_alive(rt: stark_runtime, r: stark_ref) -> stark_status;

    pub fn stark_send(
        rt: stark_runtime,
        to: stark_ref,
        tag: u32,
        data: *const c_void,
        len: usize,
    ) -> stark_status;
    pub fn stark_try_send(
        rt: stark_runtime,
        to: stark_ref,
        tag: u32,
        data: *const c_void,
        len: usize,
    ) -> stark_status;
    pub fn stark_send_from(
        rt: stark_runtime,
        from: stark_ref,
        to: stark_ref,
        tag: u32,
        data: *const c_void,
        len: usize,
    ) -> stark_status;
    pub fn stark_request(
        rt: stark_runtime,
        from: stark_ref,
        to: stark_ref,
        tag: u32,
        data: *const c_void,
        len: usize,
        corr_id: *mut u64,
    ) -> stark_status;
    pub fn stark_send_buffer(
        rt: stark_runtime,
        to: stark_ref,
        tag: u32,
        buf: stark_buffer,
    ) -> stark_status;
    pub fn stark_ask(
        rt: stark_runtime,
        to: stark_ref,
        tag: u32,
        data: *const c_void,
        len: usize,
        timeout_ns: u64,
        out: *mut stark_reply,
    ) -> stark_status;
    pub fn stark_reply_free(reply: *mut stark_reply) -> stark_status;

    pub fn stark_ctx_self(ctx: stark_ctx, out: *mut stark_ref) -> stark_status;
    pub fn stark_ctx_runtime(ctx: stark_ctx, out: *mut stark_runtime) -> stark_status;
    pub fn stark_ctx_send(
        ctx: stark_ctx,
        to: stark_ref,
        tag: u32,
        data: *const c_void,
        len: usize,
    ) -> stark_status;
    pub fn stark_ctx_send_buffer(
        ctx: stark_ctx,
        to: stark_ref,
        tag: u32,
        buf: stark_buffer,
    ) -> stark_status;
    pub fn stark_ctx_post(
        ctx: stark_ctx,
        to: stark_ref,
        tag: u32,
        data: *const c_void,
        len: usize,
    ) -> stark_status;
    pub fn stark_ctx_reply(
        ctx: stark_ctx,
        tag: u32,
        data: *const c_void,
        len: usize,
    ) -> stark_status;
    pub fn stark_ctx_reply_buffer(ctx: stark_ctx, tag: u32, buf: stark_buffer) -> stark_status;
    pub fn stark_ctx_take_buffer(ctx: stark_ctx, out: *mut stark_buffer) -> stark_status;
    pub fn stark_ctx_spawn(
        ctx: stark_ctx,
        def: *const stark_actor_def,
        opts: *const stark_spawn_opts,
        out: *mut stark_ref,
    ) -> stark_status;
    pub fn stark_ctx_fail(ctx: stark_ctx, reason: *const c_char) -> stark_status;

    pub fn stark_register(rt: stark_runtime, name: *const c_char, r: stark_ref) -> stark_status;
    pub fn stark_unregister(rt: stark_runtime, name: *const c_char) -> stark_status;
    pub fn stark_lookup(
        rt: stark_runtime,
        name: *const c_char,
        out: *mut stark_ref,
    ) -> stark_status;

    pub fn stark_subscribe(rt: stark_runtime, topic: *const c_char, r: stark_ref) -> stark_status;
    pub fn stark_unsubscribe(rt: stark_runtime, topic: *const c_char, r: stark_ref)
        -> stark_status;
    pub fn stark_publish(
        rt: stark_runtime,
        topic: *const c_char,
        tag: u32,
        data: *const c_void,
        len: usize,
        delivered: *mut u32,
    ) -> stark_status;

    pub fn stark_send_after(
        rt: stark_runtime,
        delay_ns: u64,
        to: stark_ref,
        tag: u32,
        data: *const c_void,
        len: usize,
        out: *mut stark_timer,
    ) -> stark_status;
    pub fn stark_send_every(
        rt: stark_runtime,
        period_ns: u64,
        to: stark_ref,
        tag: u32,
        data: *const c_void,
        len: usize,
        out: *mut stark_timer,
    ) -> stark_status;
    pub fn stark_timer_cancel(rt: stark_runtime, timer: stark_timer) -> stark_status;

    pub fn stark_supervisor_start(
        rt: stark_runtime,
        spec: *const stark_supervisor_spec,
        out: *mut stark_ref,
    ) -> stark_status;

    pub fn stark_buffer_alloc(
        rt: stark_runtime,
        size: usize,
        out: *mut stark_buffer,
    ) -> stark_status;
    pub fn stark_buffer_data(
        rt: stark_runtime,
        buf: stark_buffer,
        data: *mut *mut c_void,
        len: *mut usize,
    ) -> stark_status;
    pub fn stark_buffer_set_len(rt: stark_runtime, buf: stark_buffer, len: usize) -> stark_status;
    pub fn stark_buffer_retain(rt: stark_runtime, buf: stark_buffer) -> stark_status;
    pub fn stark_buffer_release(rt: stark_runtime, buf: stark_buffer) -> stark_status;

    pub fn stark_wasm_load(
        rt: stark_runtime,
        bytes: *const c_void,
        len: usize,
        name: *const c_char,
        flags: u32,
        out: *mut stark_module,
    ) -> stark_status;
    pub fn stark_wasm_load_file(
        rt: stark_runtime,
        path: *const c_char,
        flags: u32,
        out: *mut stark_module,
    ) -> stark_status;
    pub fn stark_wasm_register(
        rt: stark_runtime,
        name: *const c_char,
        module: stark_module,
    ) -> stark_status;
    pub fn stark_module_free(rt: stark_runtime, module: stark_module) -> stark_status;
    pub fn stark_spawn_wasm(
        rt: stark_runtime,
        module: stark_module,
        wasm_opts: *const stark_wasm_opts,
        opts: *const stark_spawn_opts,
        out: *mut stark_ref,
    ) -> stark_status;
    pub fn stark_wasm_upgrade(
        rt: stark_runtime,
        r: stark_ref,
        module: stark_module,
        timeout_ns: u64,
    ) -> stark_status;

    pub fn stark_poller_new(
        rt: stark_runtime,
        capacity: u32,
        out: *mut stark_poller,
    ) -> stark_status;
    pub fn stark_poller_free(rt: stark_runtime, poller: stark_poller) -> stark_status;
    pub fn stark_spawn_polled(
        rt: stark_runtime,
        poller: stark_poller,
        opts: *const stark_spawn_opts,
        out: *mut stark_ref,
    ) -> stark_status;
    pub fn stark_poll(
        rt: stark_runtime,
        poller: stark_poller,
        items: *mut stark_poll_item,
        cap: usize,
        timeout_ns: u64,
        n: *mut usize,
    ) -> stark_status;
    pub fn stark_poll_done(
        rt: stark_runtime,
        poller: stark_poller,
        results: *const stark_poll_result,
        n: usize,
    ) -> stark_status;

    pub fn stark_device_backends(
        rt: stark_runtime,
        items: *mut stark_backend_info,
        cap: usize,
        n: *mut usize,
    ) -> stark_status;
    pub fn stark_device_select(rt: stark_runtime, name: *const c_char) -> stark_status;
    pub fn stark_device_backend_name(
        rt: stark_runtime,
        name: *mut c_char,
        cap: usize,
    ) -> stark_status;
    pub fn stark_device_count(rt: stark_runtime, n: *mut u32) -> stark_status;
    pub fn stark_device_get_info(
        rt: stark_runtime,
        device: u32,
        out: *mut stark_device_info,
    ) -> stark_status;
    pub fn stark_device_alloc(
        rt: stark_runtime,
        device: u32,
        bytes: u64,
        out: *mut stark_dbuf,
    ) -> stark_status;
    pub fn stark_device_release(rt: stark_runtime, buf: stark_dbuf) -> stark_status;
    pub fn stark_device_write(
        rt: stark_runtime,
        dst: stark_dbuf,
        offset: u64,
        src: *const c_void,
        len: usize,
    ) -> stark_status;
    pub fn stark_device_read(
        rt: stark_runtime,
        src: stark_dbuf,
        offset: u64,
        dst: *mut c_void,
        len: usize,
    ) -> stark_status;
    pub fn stark_device_copy(
        rt: stark_runtime,
        dst: stark_dbuf,
        dst_offset: u64,
        src: stark_dbuf,
        src_offset: u64,
        bytes: u64,
    ) -> stark_status;
    pub fn stark_device_run(rt: stark_runtime, op: *const stark_device_op) -> stark_status;
    pub fn stark_device_sync(rt: stark_runtime, device: u32) -> stark_status;
    pub fn stark_send_device_buffer(
        rt: stark_runtime,
        to: stark_ref,
        tag: u32,
        buf: stark_dbuf,
    ) -> stark_status;
    pub fn stark_ctx_take_device_buffer(ctx: stark_ctx, out: *mut stark_dbuf) -> stark_status;
}

#[cfg(test)]
mod layout {
    use super::*;
    use std::mem::{offset_of, size_of};

    // Sizes and offsets on LP64 (x86_64/aarch64 Linux), as printed by a C
    // program compiled against abi/stark.h (sizeof / offsetof).
    #[test]
    fn sizes() {
        assert_eq!(size_of::<stark_msg>(), 64);
        assert_eq!(offset_of!(stark_msg, device_buffer), 56);
        assert_eq!(size_of::<stark_actor_def>(), 48);
        assert_eq!(size_of::<stark_spawn_opts>(), 40);
        assert_eq!(size_of::<stark_reply>(), 40);
        assert_eq!(size_of::<stark_config>(), 88);
        assert_eq!(offset_of!(stark_config, backend_path), 80);
        assert_eq!(size_of::<stark_metrics>(), 152);
        assert_eq!(size_of::<stark_counters>(), 40);
        assert_eq!(size_of::<stark_dead_letter>(), 280);
        assert_eq!(offset_of!(stark_dead_letter, reason), 44);
        assert_eq!(size_of::<stark_child_spec>(), 64);
        assert_eq!(size_of::<stark_supervisor_spec>(), 72);
        assert_eq!(size_of::<stark_wasm_opts>(), 88);
        assert_eq!(size_of::<stark_poll_item>(), 80);
        assert_eq!(size_of::<stark_poll_result>(), 40);
        assert_eq!(size_of::<stark_backend_info>(), 496);
        assert_eq!(size_of::<stark_device_info>(), 240);
        assert_eq!(size_of::<stark_device_op>(), 136);
        assert_eq!(offset_of!(stark_device_op, alpha), 120);
    }
}
