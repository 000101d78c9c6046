//! Safe Rust bindings to STARK, an actor runtime, over its C ABI
//! (`abi/stark.h`, linked as `libstark.so.1`).
//!
//! ```no_run
//! use std::time::Duration;
//! let rt = stark::Runtime::new()?;
//! let echo = rt.spawn(|ctx: &stark::Ctx, msg: &stark::Msg| {
//!     ctx.reply(msg.tag(), msg.data()).map_err(|e| e.status())
//! })?;
//! let reply = echo.ask(&rt, 1, b"hi", Duration::from_secs(1))?;
//! assert_eq!(reply.data(), b"hi");
//! # Ok::<(), stark::Error>(())
//! ```
//!
//! Ownership and threading follow the header: handles are 64-bit values
//! (a stale one is `Status::NotFound`, never a crash); every call is
//! thread-safe, so [`Runtime`] is `Send + Sync`; a [`Ctx`] is valid only
//! during its callback on its thread, so it is neither.

use std::any::Any;
use std::ffi::{CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr;
use std::time::Duration;

pub mod sys;

// ------------------------------------------------------------------------
// Statuses and errors
// ------------------------------------------------------------------------

/// A `stark_status` (STARK_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    Invalid,
    NotFound,
    Timeout,
    Full,
    Exhausted,
    Stopped,
    Unsupported,
    Internal,
    Denied,
    TooLarge,
    Failed,
    /// A code this crate does not know (a newer library).
    Other(i32),
}

impl Status {
    pub fn from_raw(s: sys::stark_status) -> Status {
        match s {
            sys::STARK_OK => Status::Ok,
            sys::STARK_INVALID => Status::Invalid,
            sys::STARK_NOT_FOUND => Status::NotFound,
            sys::STARK_TIMEOUT => Status::Timeout,
            sys::STARK_FULL => Status::Full,
            sys::STARK_EXHAUSTED => Status::Exhausted,
            sys::STARK_STOPPED => Status::Stopped,
            sys::STARK_UNSUPPORTED => Status::Unsupported,
            sys::STARK_INTERNAL => Status::Internal,
            sys::STARK_DENIED => Status::Denied,
            sys::STARK_TOO_LARGE => Status::TooLarge,
            sys::STARK_FAILED => Status::Failed,
            other => Status::Other(other),
        }
    }

    pub fn raw(self) -> sys::stark_status {
        match self {
            Status::Ok => sys::STARK_OK,
            Status::Invalid => sys::STARK_INVALID,
            Status::NotFound => sys::STARK_NOT_FOUND,
            Status::Timeout => sys::STARK_TIMEOUT,
            Status::Full => sys::STARK_FULL,
            Status::Exhausted => sys::STARK_EXHAUSTED,
            Status::Stopped => sys::STARK_STOPPED,
            Status::Unsupported => sys::STARK_UNSUPPORTED,
            Status::Internal => sys::STARK_INTERNAL,
            Status::Denied => sys::STARK_DENIED,
            Status::TooLarge => sys::STARK_TOO_LARGE,
            Status::Failed => sys::STARK_FAILED,
            Status::Other(c) => c,
        }
    }

    /// The library's static name for the status (`stark_status_name`).
    pub fn name(self) -> String {
        // SAFETY: returns a static NUL-terminated string, never NULL.
        unsafe { cstr_to_string(sys::stark_status_name(self.raw())) }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A failed call: its status and the message `stark_last_error()` gave
/// right after it (on the same thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    status: Status,
    message: String,
}

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }
    pub fn status(&self) -> Status {
        self.status
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "stark: {}", self.status)
        } else {
            write!(f, "stark: {}: {}", self.status, self.message)
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        e.status
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

unsafe fn cstr_to_string(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// Turns a status into a Result, reading the thread's last error at once.
fn check(st: sys::stark_status) -> Result<()> {
    if st == sys::STARK_OK {
        Ok(())
    } else {
        // SAFETY: never NULL; valid until the next failing call on this thread.
        let message = unsafe { cstr_to_string(sys::stark_last_error()) };
        Err(Error {
            status: Status::from_raw(st),
            message,
        })
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| {
        Error::new(
            Status::Invalid,
            format!("string contains a NUL byte: {s:?}"),
        )
    })
}

fn nanos(d: Duration) -> u64 {
    if d.is_zero() {
        0
    } else {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
    }
}

fn data_ptr(data: &[u8]) -> *const c_void {
    data.as_ptr() as *const c_void
}

/// The ABI version of the loaded library, as `(major, minor)`.
pub fn abi_version() -> (u32, u32) {
    // SAFETY: no arguments.
    let v = unsafe { sys::stark_abi_version() };
    (v >> 16, v & 0xFFFF)
}

/// Checks the loaded library against the header this crate mirrors.
pub fn check_abi() -> Result<()> {
    // SAFETY: no arguments.
    let v = unsafe { sys::stark_abi_version() };
    if sys::stark_abi_compatible(v) {
        Ok(())
    } else {
        Err(Error::new(
            Status::Unsupported,
            format!(
                "libstark implements ABI {}.{}, this crate was written against {}.{} \
                 (needs the same major and a minor at least as new)",
                v >> 16,
                v & 0xFFFF,
                sys::STARK_ABI_VERSION_MAJOR,
                sys::STARK_ABI_VERSION_MINOR
            ),
        ))
    }
}

// ------------------------------------------------------------------------
// Runtime
// ------------------------------------------------------------------------

/// Runtime settings (`stark_config`); zero / `None` means the default.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub workers: u32,
    pub mailbox_capacity: u32,
    pub budget: u32,
    pub max_actors: u32,
    pub ask_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub pool_limit_bytes: u64,
    pub wasm_cache_dir: Option<String>,
    pub wasm_memory_pages: u32,
    pub wasm_deadline: Duration,
    /// Device backend ("cpu", "vulkan", ...); `None`: $STARK_DEVICE, else the best.
    pub device: Option<String>,
    pub backend_path: Option<String>,
}

/// A STARK runtime; freed (shut down first) on drop.
pub struct Runtime {
    raw: sys::stark_runtime,
    // Opts out of the auto traits so that Send/Sync below are a decision.
    _marker: PhantomData<*const ()>,
}

// SAFETY: the header guarantees every function is safe to call from any
// thread, concurrently, and a runtime handle is a plain 64-bit value.
unsafe impl Send for Runtime {}
// SAFETY: as above; &Runtime only ever passes the handle to thread-safe calls.
unsafe impl Sync for Runtime {}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Runtime({:#x})", self.raw)
    }
}

impl Runtime {
    /// A runtime with the defaults.
    pub fn new() -> Result<Runtime> {
        Runtime::create(None)
    }

    pub fn with_config(cfg: Config) -> Result<Runtime> {
        Runtime::create(Some(&cfg))
    }

    fn create(cfg: Option<&Config>) -> Result<Runtime> {
        check_abi()?;
        let mut out = 0;
        let st = match cfg {
            None => unsafe { sys::stark_runtime_new(ptr::null(), &mut out) },
            Some(c) => {
                let cache = c.wasm_cache_dir.as_deref().map(cstring).transpose()?;
                let device = c.device.as_deref().map(cstring).transpose()?;
                let bpath = c.backend_path.as_deref().map(cstring).transpose()?;
                let opt = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
                let raw = sys::stark_config {
                    struct_size: std::mem::size_of::<sys::stark_config>() as u32,
                    workers: c.workers,
                    mailbox_capacity: c.mailbox_capacity,
                    budget: c.budget,
                    max_actors: c.max_actors,
                    reserved0: 0,
                    ask_timeout_ns: nanos(c.ask_timeout),
                    shutdown_timeout_ns: nanos(c.shutdown_timeout),
                    pool_limit_bytes: c.pool_limit_bytes,
                    wasm_cache_dir: opt(&cache),
                    wasm_memory_pages: c.wasm_memory_pages,
                    reserved1: 0,
                    wasm_deadline_ns: nanos(c.wasm_deadline),
                    device: opt(&device),
                    backend_path: opt(&bpath),
                };
                // SAFETY: raw and its strings live across the call.
                unsafe { sys::stark_runtime_new(&raw, &mut out) }
            }
        };
        check(st)?;
        Ok(Runtime {
            raw: out,
            _marker: PhantomData,
        })
    }

    pub fn raw(&self) -> sys::stark_runtime {
        self.raw
    }

    /// Stops every actor, children first; kills what is left after timeout
    /// (zero: 5 s). `Status::Timeout` when actors had to be killed.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        check(unsafe { sys::stark_runtime_shutdown(self.raw, nanos(timeout)) })
    }

    pub fn metrics(&self) -> Result<sys::stark_metrics> {
        let mut m = sys::stark_metrics {
            struct_size: std::mem::size_of::<sys::stark_metrics>() as u32,
            ..Default::default()
        };
        check(unsafe { sys::stark_runtime_metrics(self.raw, &mut m) })?;
        Ok(m)
    }

    /// Spawns a native actor running `handler` for each message (one at a
    /// time, on runtime worker threads). The closure lives until the actor
    /// terminates, across restarts; a panic in it fails the message.
    pub fn spawn<F>(&self, handler: F) -> Result<ActorRef>
    where
        F: FnMut(&Ctx, &Msg) -> Result<(), Status> + Send + 'static,
    {
        self.spawn_with(&SpawnOptions::default(), handler)
    }

    pub fn spawn_with<F>(&self, opts: &SpawnOptions, handler: F) -> Result<ActorRef>
    where
        F: FnMut(&Ctx, &Msg) -> Result<(), Status> + Send + 'static,
    {
        spawn_native(opts, handler, |def, o, out| unsafe {
            sys::stark_spawn(self.raw, def, o, out)
        })
    }

    pub fn register(&self, name: &str, actor: ActorRef) -> Result<()> {
        let n = cstring(name)?;
        check(unsafe { sys::stark_register(self.raw, n.as_ptr(), actor.0) })
    }

    pub fn unregister(&self, name: &str) -> Result<()> {
        let n = cstring(name)?;
        check(unsafe { sys::stark_unregister(self.raw, n.as_ptr()) })
    }

    pub fn lookup(&self, name: &str) -> Result<ActorRef> {
        let n = cstring(name)?;
        let mut out = 0;
        check(unsafe { sys::stark_lookup(self.raw, n.as_ptr(), &mut out) })?;
        Ok(ActorRef(out))
    }

    /// A pooled buffer of `size` bytes (contents unspecified), one reference.
    pub fn buffer(&self, size: usize) -> Result<Buffer<'_>> {
        let mut raw = 0;
        check(unsafe { sys::stark_buffer_alloc(self.raw, size, &mut raw) })?;
        Buffer::adopt(self, raw)
    }

    /// Compiles a WASM module from a file (`trusted`: STARK_WASM_TRUSTED).
    pub fn load_wasm_file(&self, path: impl AsRef<Path>, trusted: bool) -> Result<Module> {
        let p = cstring(&path.as_ref().to_string_lossy())?;
        let flags = if trusted { sys::STARK_WASM_TRUSTED } else { 0 };
        let mut out = 0;
        check(unsafe { sys::stark_wasm_load_file(self.raw, p.as_ptr(), flags, &mut out) })?;
        Ok(Module {
            rt: self.raw,
            raw: out,
        })
    }

    /// Compiles a WASM module from bytes.
    pub fn load_wasm(&self, bytes: &[u8], name: Option<&str>, trusted: bool) -> Result<Module> {
        let n = name.map(cstring).transpose()?;
        let flags = if trusted { sys::STARK_WASM_TRUSTED } else { 0 };
        let mut out = 0;
        check(unsafe {
            sys::stark_wasm_load(
                self.raw,
                data_ptr(bytes),
                bytes.len(),
                n.as_ref().map_or(ptr::null(), |n| n.as_ptr()),
                flags,
                &mut out,
            )
        })?;
        Ok(Module {
            rt: self.raw,
            raw: out,
        })
    }

    /// Spawns a WASM actor running `module`.
    pub fn spawn_wasm(
        &self,
        module: &Module,
        wasm: &WasmOptions,
        opts: &SpawnOptions,
    ) -> Result<ActorRef> {
        let w = sys::stark_wasm_opts {
            struct_size: std::mem::size_of::<sys::stark_wasm_opts>() as u32,
            memory_pages: wasm.memory_pages,
            deadline_ns: nanos(wasm.deadline),
            max_message: wasm.max_message,
            init: data_ptr(&wasm.init),
            init_len: wasm.init.len(),
            ro_dirs: ptr::null(),
            n_ro_dirs: 0,
            env: ptr::null(),
            n_env: 0,
            spawn: ptr::null(),
            n_spawn: 0,
        };
        let name = opts.name.as_deref().map(cstring).transpose()?;
        let o = opts.raw(name.as_ref());
        let mut out = 0;
        check(unsafe { sys::stark_spawn_wasm(self.raw, module.raw, &w, &o, &mut out) })?;
        Ok(ActorRef(out))
    }

    /// The current device backend's name (starts the backend if needed).
    pub fn device_backend_name(&self) -> Result<String> {
        let mut buf = [0 as c_char; 64];
        check(unsafe { sys::stark_device_backend_name(self.raw, buf.as_mut_ptr(), buf.len()) })?;
        Ok(unsafe { cstr_to_string(buf.as_ptr()) })
    }

    /// Runs the backend called `name` ("" / None: the best score).
    pub fn device_select(&self, name: Option<&str>) -> Result<()> {
        let n = name.map(cstring).transpose()?;
        check(unsafe {
            sys::stark_device_select(self.raw, n.as_ref().map_or(ptr::null(), |n| n.as_ptr()))
        })
    }

    pub fn device_count(&self) -> Result<u32> {
        let mut n = 0;
        check(unsafe { sys::stark_device_count(self.raw, &mut n) })?;
        Ok(n)
    }

    /// `bytes` of memory on device 0.
    pub fn device_alloc(&self, bytes: u64) -> Result<DeviceBuffer> {
        self.device_alloc_on(0, bytes)
    }

    pub fn device_alloc_on(&self, device: u32, bytes: u64) -> Result<DeviceBuffer> {
        let mut raw = 0;
        check(unsafe { sys::stark_device_alloc(self.raw, device, bytes, &mut raw) })?;
        Ok(DeviceBuffer {
            rt: self.raw,
            raw,
            len: bytes,
        })
    }

    /// Runs a built-in op synchronously.
    pub fn device_run(&self, op: &DeviceOp) -> Result<()> {
        check(unsafe { sys::stark_device_run(self.raw, &op.0) })
    }

    pub fn device_sync(&self, device: u32) -> Result<()> {
        check(unsafe { sys::stark_device_sync(self.raw, device) })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // SAFETY: we own the handle; a failure here has nowhere to go.
        unsafe {
            sys::stark_runtime_free(self.raw);
        }
    }
}

/// Options of a spawn (`stark_spawn_opts`).
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    /// Registered under this name (`Status::Invalid` if taken).
    pub name: Option<String>,
    pub mailbox_capacity: u32,
    /// `sys::STARK_OVERFLOW_FAIL` / `WAIT` / `DROP`.
    pub overflow: u32,
    pub overflow_wait: Duration,
    pub shutdown_timeout: Duration,
}

impl SpawnOptions {
    fn raw(&self, name: Option<&CString>) -> sys::stark_spawn_opts {
        sys::stark_spawn_opts {
            struct_size: std::mem::size_of::<sys::stark_spawn_opts>() as u32,
            mailbox_capacity: self.mailbox_capacity,
            name: name.map_or(ptr::null(), |n| n.as_ptr()),
            overflow: self.overflow,
            reserved: 0,
            overflow_wait_ns: nanos(self.overflow_wait),
            shutdown_timeout_ns: nanos(self.shutdown_timeout),
        }
    }
}

// ------------------------------------------------------------------------
// Native actors
// ------------------------------------------------------------------------

fn spawn_native<F>(
    opts: &SpawnOptions,
    handler: F,
    call: impl FnOnce(
        *const sys::stark_actor_def,
        *const sys::stark_spawn_opts,
        *mut sys::stark_ref,
    ) -> i32,
) -> Result<ActorRef>
where
    F: FnMut(&Ctx, &Msg) -> Result<(), Status> + Send + 'static,
{
    let name = opts.name.as_deref().map(cstring).transpose()?;
    let o = opts.raw(name.as_ref());
    let ud = Box::into_raw(Box::new(handler)) as *mut c_void;
    let def = sys::stark_actor_def {
        struct_size: std::mem::size_of::<sys::stark_actor_def>() as u32,
        flags: 0,
        handle: Some(handle_trampoline::<F>),
        on_start: None,
        on_stop: None,
        user_data: ud,
        free_user_data: Some(free_trampoline::<F>),
    };
    let mut out = 0;
    let st = call(&def, &o, &mut out);
    let res = check(st);
    if st == sys::STARK_INVALID {
        // Header: after STARK_INVALID nothing was taken; the closure is ours.
        // SAFETY: ud came from Box::into_raw above and was not adopted.
        drop(unsafe { Box::from_raw(ud as *mut F) });
    }
    // Any other result: the runtime owns ud and calls free_user_data once.
    res.map(|()| ActorRef(out))
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

unsafe extern "C" fn handle_trampoline<F>(
    ctx: sys::stark_ctx,
    msg: *const sys::stark_msg,
    ud: *mut c_void,
) -> i32
where
    F: FnMut(&Ctx, &Msg) -> Result<(), Status> + Send + 'static,
{
    if msg.is_null() || ud.is_null() {
        return sys::STARK_INVALID;
    }
    let c = Ctx {
        raw: ctx,
        _marker: PhantomData,
    };
    // SAFETY: the runtime never runs one actor's handler concurrently, so
    // this is the only live &mut to the closure; msg is valid for the call.
    let f = &mut *(ud as *mut F);
    let m = Msg { raw: &*msg };
    match catch_unwind(AssertUnwindSafe(|| f(&c, &m))) {
        Ok(Ok(())) => sys::STARK_OK,
        Ok(Err(Status::Ok)) => sys::STARK_FAILED,
        Ok(Err(s)) => s.raw(),
        Err(p) => {
            let reason = format!("panic in actor: {}", panic_message(&*p));
            let r = CString::new(reason.replace('\0', " ")).unwrap_or_default();
            sys::stark_ctx_fail(ctx, r.as_ptr());
            sys::STARK_FAILED
        }
    }
}

unsafe extern "C" fn free_trampoline<F>(ud: *mut c_void) {
    if !ud.is_null() {
        // A panicking Drop must not unwind into C.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(ud as *mut F))));
    }
}

/// A handle to an actor (`stark_ref`): a plain value, freely copied and
/// shared; a stale or forged one gives `Status::NotFound`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActorRef(sys::stark_ref);

impl ActorRef {
    pub fn from_raw(raw: sys::stark_ref) -> ActorRef {
        ActorRef(raw)
    }
    pub fn raw(self) -> sys::stark_ref {
        self.0
    }

    /// Sends a copy of `data` (the target's overflow policy applies).
    pub fn send(self, rt: &Runtime, tag: u32, data: &[u8]) -> Result<()> {
        check(unsafe { sys::stark_send(rt.raw, self.0, tag, data_ptr(data), data.len()) })
    }

    /// As `send`, but a full mailbox is `Status::Full` at once.
    pub fn try_send(self, rt: &Runtime, tag: u32, data: &[u8]) -> Result<()> {
        check(unsafe { sys::stark_try_send(rt.raw, self.0, tag, data_ptr(data), data.len()) })
    }

    /// Sends and waits for the reply (zero timeout: the runtime's default).
    /// `Status::Failed`: the actor failed on this message (the message says why).
    pub fn ask<'rt>(
        self,
        rt: &'rt Runtime,
        tag: u32,
        data: &[u8],
        timeout: Duration,
    ) -> Result<Reply<'rt>> {
        let mut r = Reply {
            raw: sys::stark_reply {
                struct_size: std::mem::size_of::<sys::stark_reply>() as u32,
                tag: 0,
                sender: 0,
                data: ptr::null_mut(),
                len: 0,
                buffer: 0,
            },
            _rt: PhantomData,
        };
        check(unsafe {
            sys::stark_ask(
                rt.raw,
                self.0,
                tag,
                data_ptr(data),
                data.len(),
                nanos(timeout),
                &mut r.raw,
            )
        })?;
        Ok(r)
    }

    /// Moves the buffer into a message (zero copy); it is gone either way.
    pub fn send_buffer(self, rt: &Runtime, tag: u32, buf: Buffer<'_>) -> Result<()> {
        let raw = buf.into_raw();
        check(unsafe { sys::stark_send_buffer(rt.raw, self.0, tag, raw) })
    }

    /// Graceful stop: handles what is queued, then terminates.
    pub fn stop(self, rt: &Runtime) -> Result<()> {
        check(unsafe { sys::stark_stop(rt.raw, self.0) })
    }

    /// Stops after the message in hand; the queue is dead-lettered.
    pub fn kill(self, rt: &Runtime) -> Result<()> {
        check(unsafe { sys::stark_kill(rt.raw, self.0) })
    }

    pub fn is_alive(self, rt: &Runtime) -> bool {
        unsafe { sys::stark_alive(rt.raw, self.0) == sys::STARK_OK }
    }
}

/// The answer to an ask; owns its memory (freed by `stark_reply_free`).
pub struct Reply<'rt> {
    raw: sys::stark_reply,
    _rt: PhantomData<&'rt Runtime>,
}

impl Reply<'_> {
    pub fn tag(&self) -> u32 {
        self.raw.tag
    }
    pub fn sender(&self) -> Option<ActorRef> {
        (self.raw.sender != 0).then_some(ActorRef(self.raw.sender))
    }
    pub fn data(&self) -> &[u8] {
        if self.raw.data.is_null() || self.raw.len == 0 {
            &[]
        } else {
            // SAFETY: owned by this reply until Drop.
            unsafe { std::slice::from_raw_parts(self.raw.data as *const u8, self.raw.len) }
        }
    }
    /// Whether the reply came as a pooled buffer (zero copy).
    pub fn is_buffer(&self) -> bool {
        self.raw.buffer != 0
    }
}

impl fmt::Debug for Reply<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("tag", &self.raw.tag)
            .field("len", &self.raw.len)
            .finish()
    }
}

impl Drop for Reply<'_> {
    fn drop(&mut self) {
        unsafe {
            sys::stark_reply_free(&mut self.raw);
        }
    }
}

/// An actor's view of the runtime during one callback. Not `Send`/`Sync`:
/// it is valid only on the callback's thread while the callback runs.
pub struct Ctx {
    raw: sys::stark_ctx,
    _marker: PhantomData<*const ()>,
}

impl Ctx {
    pub fn raw(&self) -> sys::stark_ctx {
        self.raw
    }

    /// Answers the message in hand (the waiting ask, or its sender).
    pub fn reply(&self, tag: u32, data: &[u8]) -> Result<()> {
        check(unsafe { sys::stark_ctx_reply(self.raw, tag, data_ptr(data), data.len()) })
    }

    /// Sends with this actor as the sender, delivered at once.
    pub fn send(&self, to: ActorRef, tag: u32, data: &[u8]) -> Result<()> {
        check(unsafe { sys::stark_ctx_send(self.raw, to.0, tag, data_ptr(data), data.len()) })
    }

    /// Posts into the outbox, delivered when the handler returns; refusals
    /// become dead letters.
    pub fn post(&self, to: ActorRef, tag: u32, data: &[u8]) -> Result<()> {
        check(unsafe { sys::stark_ctx_post(self.raw, to.0, tag, data_ptr(data), data.len()) })
    }

    pub fn self_ref(&self) -> Result<ActorRef> {
        let mut out = 0;
        check(unsafe { sys::stark_ctx_self(self.raw, &mut out) })?;
        Ok(ActorRef(out))
    }

    /// Records the reason for the failure status the handler is about to
    /// return; it reaches the dead letter, the supervisor and a waiting ask.
    pub fn fail(&self, reason: &str) -> Result<()> {
        let r = CString::new(reason.replace('\0', " ")).unwrap_or_default();
        check(unsafe { sys::stark_ctx_fail(self.raw, r.as_ptr()) })
    }

    /// The runtime this actor runs in, borrowed for the callback.
    pub fn runtime(&self) -> Result<RuntimeView<'_>> {
        let mut out = 0;
        check(unsafe { sys::stark_ctx_runtime(self.raw, &mut out) })?;
        Ok(RuntimeView {
            rt: ManuallyDrop::new(Runtime {
                raw: out,
                _marker: PhantomData,
            }),
            _ctx: PhantomData,
        })
    }

    /// Takes the pooled buffer of the message in hand.
    pub fn take_buffer<'a>(&self, rt: &'a RuntimeView<'_>) -> Result<Buffer<'a>> {
        let mut raw = 0;
        check(unsafe { sys::stark_ctx_take_buffer(self.raw, &mut raw) })?;
        Buffer::adopt(rt, raw)
    }

    /// Spawns a supervised child running `handler`.
    pub fn spawn<F>(&self, opts: &SpawnOptions, handler: F) -> Result<ActorRef>
    where
        F: FnMut(&Ctx, &Msg) -> Result<(), Status> + Send + 'static,
    {
        spawn_native(opts, handler, |def, o, out| unsafe {
            sys::stark_ctx_spawn(self.raw, def, o, out)
        })
    }
}

/// A non-owning [`Runtime`] borrowed from a [`Ctx`] (not freed on drop).
pub struct RuntimeView<'a> {
    rt: ManuallyDrop<Runtime>,
    _ctx: PhantomData<&'a Ctx>,
}

impl Deref for RuntimeView<'_> {
    type Target = Runtime;
    fn deref(&self) -> &Runtime {
        &self.rt
    }
}

/// One message as a handler sees it; valid only during the callback.
pub struct Msg<'a> {
    raw: &'a sys::stark_msg,
}

impl Msg<'_> {
    pub fn tag(&self) -> u32 {
        self.raw.tag
    }
    /// The payload (points into the pooled buffer when there is one).
    pub fn data(&self) -> &[u8] {
        if self.raw.data.is_null() || self.raw.len == 0 {
            &[]
        } else {
            // SAFETY: valid during the callback, which outlives &self.
            unsafe { std::slice::from_raw_parts(self.raw.data as *const u8, self.raw.len) }
        }
    }
    /// None when the sender is outside the runtime.
    pub fn sender(&self) -> Option<ActorRef> {
        (self.raw.sender != 0).then_some(ActorRef(self.raw.sender))
    }
    pub fn is_ask(&self) -> bool {
        self.raw.is_ask != 0
    }
    pub fn corr_id(&self) -> u64 {
        self.raw.corr_id
    }
    /// The pooled buffer handle carrying the payload, if any.
    pub fn buffer(&self) -> Option<sys::stark_buffer> {
        (self.raw.buffer != 0).then_some(self.raw.buffer)
    }
    pub fn raw(&self) -> &sys::stark_msg {
        self.raw
    }
}

// ------------------------------------------------------------------------
// Pooled buffers
// ------------------------------------------------------------------------

/// One reference to a pooled buffer; released on drop. The memory is the
/// runtime's, so the buffer borrows the runtime.
pub struct Buffer<'rt> {
    rt: &'rt Runtime,
    raw: sys::stark_buffer,
    data: *mut u8,
    len: usize,
}

// SAFETY: the buffer is exclusively ours (one reference, never shared by
// this API) and every call on it is thread-safe.
unsafe impl Send for Buffer<'_> {}
unsafe impl Sync for Buffer<'_> {}

impl<'rt> Buffer<'rt> {
    fn adopt(rt: &'rt Runtime, raw: sys::stark_buffer) -> Result<Buffer<'rt>> {
        let mut data = ptr::null_mut();
        let mut len = 0;
        let st = unsafe { sys::stark_buffer_data(rt.raw, raw, &mut data, &mut len) };
        if st != sys::STARK_OK {
            let e = check(st);
            unsafe { sys::stark_buffer_release(rt.raw, raw) };
            return e.map(|_| unreachable!());
        }
        Ok(Buffer {
            rt,
            raw,
            data: data as *mut u8,
            len,
        })
    }

    pub fn raw(&self) -> sys::stark_buffer {
        self.raw
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn as_ptr(&self) -> *const u8 {
        self.data
    }
    pub fn as_slice(&self) -> &[u8] {
        if self.len == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(self.data, self.len) }
        }
    }
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        if self.len == 0 {
            &mut []
        } else {
            unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
        }
    }
    /// Sets the length (at most the allocated capacity).
    pub fn set_len(&mut self, len: usize) -> Result<()> {
        check(unsafe { sys::stark_buffer_set_len(self.rt.raw, self.raw, len) })?;
        let mut data = ptr::null_mut();
        check(unsafe { sys::stark_buffer_data(self.rt.raw, self.raw, &mut data, &mut self.len) })?;
        self.data = data as *mut u8;
        Ok(())
    }
    /// Gives up the reference without releasing it.
    pub fn into_raw(self) -> sys::stark_buffer {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        unsafe {
            sys::stark_buffer_release(self.rt.raw, self.raw);
        }
    }
}

// ------------------------------------------------------------------------
// WASM
// ------------------------------------------------------------------------

/// A compiled WASM module; dropped with `stark_module_free` (actors running
/// it keep running).
#[derive(Debug)]
pub struct Module {
    rt: sys::stark_runtime,
    raw: sys::stark_module,
}

impl Module {
    pub fn raw(&self) -> sys::stark_module {
        self.raw
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        // A stale runtime handle is STARK_NOT_FOUND, never a crash.
        unsafe {
            sys::stark_module_free(self.rt, self.raw);
        }
    }
}

/// Options of a WASM actor (`stark_wasm_opts`); zero means the default.
#[derive(Debug, Clone, Default)]
pub struct WasmOptions {
    /// Memory limit in 64 KiB pages.
    pub memory_pages: u32,
    pub deadline: Duration,
    pub max_message: u64,
    /// Bytes given to the guest's `stark_init`.
    pub init: Vec<u8>,
}

// ------------------------------------------------------------------------
// Devices
// ------------------------------------------------------------------------

/// Device memory of the runtime's current backend; released on drop. Goes
/// stale (`Status::NotFound`) when the backend is swapped.
#[derive(Debug)]
pub struct DeviceBuffer {
    rt: sys::stark_runtime,
    raw: sys::stark_dbuf,
    len: u64,
}

impl DeviceBuffer {
    pub fn raw(&self) -> sys::stark_dbuf {
        self.raw
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn write(&self, offset: u64, src: &[u8]) -> Result<()> {
        check(unsafe {
            sys::stark_device_write(self.rt, self.raw, offset, data_ptr(src), src.len())
        })
    }
    pub fn read(&self, offset: u64, dst: &mut [u8]) -> Result<()> {
        check(unsafe {
            sys::stark_device_read(
                self.rt,
                self.raw,
                offset,
                dst.as_mut_ptr() as *mut c_void,
                dst.len(),
            )
        })
    }
    /// Writes f32 values at a byte offset.
    pub fn write_f32(&self, offset: u64, src: &[f32]) -> Result<()> {
        let bytes = std::mem::size_of_val(src);
        check(unsafe {
            sys::stark_device_write(
                self.rt,
                self.raw,
                offset,
                src.as_ptr() as *const c_void,
                bytes,
            )
        })
    }
    /// Reads f32 values from a byte offset.
    pub fn read_f32(&self, offset: u64, dst: &mut [f32]) -> Result<()> {
        let bytes = std::mem::size_of_val(dst);
        check(unsafe {
            sys::stark_device_read(
                self.rt,
                self.raw,
                offset,
                dst.as_mut_ptr() as *mut c_void,
                bytes,
            )
        })
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        unsafe {
            sys::stark_device_release(self.rt, self.raw);
        }
    }
}

/// A built-in device op (`stark_device_op`); construct with the helpers or
/// fill the raw struct.
#[derive(Debug, Clone, Copy)]
pub struct DeviceOp(pub sys::stark_device_op);

impl DeviceOp {
    fn base(kind: u32) -> sys::stark_device_op {
        sys::stark_device_op {
            struct_size: std::mem::size_of::<sys::stark_device_op>() as u32,
            kind,
            dtype: sys::STARK_DT_F32,
            ..Default::default()
        }
    }

    /// c[i] = a[i] + b[i] for i < n (f32).
    pub fn add(a: &DeviceBuffer, b: &DeviceBuffer, c: &DeviceBuffer, n: u64) -> DeviceOp {
        DeviceOp(sys::stark_device_op {
            a: a.raw,
            b: b.raw,
            c: c.raw,
            n,
            ..Self::base(sys::STARK_OP_ADD)
        })
    }

    /// c[i] = a[i] * b[i] for i < n (f32).
    pub fn mul(a: &DeviceBuffer, b: &DeviceBuffer, c: &DeviceBuffer, n: u64) -> DeviceOp {
        DeviceOp(sys::stark_device_op {
            a: a.raw,
            b: b.raw,
            c: c.raw,
            n,
            ..Self::base(sys::STARK_OP_MUL)
        })
    }

    /// C (m x n) = A (m x k) * B (k x n), dense row-major f32.
    pub fn matmul(
        a: &DeviceBuffer,
        b: &DeviceBuffer,
        c: &DeviceBuffer,
        m: u64,
        n: u64,
        k: u64,
    ) -> DeviceOp {
        DeviceOp(sys::stark_device_op {
            a: a.raw,
            b: b.raw,
            c: c.raw,
            m,
            n,
            k,
            alpha: 1.0,
            beta: 0.0,
            ..Self::base(sys::STARK_OP_MATMUL)
        })
    }
}
