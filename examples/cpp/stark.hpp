// stark.hpp - a small header-only C++17 wrapper over the STARK C ABI (stark.h).
//
//   stark::Runtime rt;                                   // stark_runtime_new, freed by ~Runtime
//   stark::Actor echo = rt.spawn([](stark::Context &ctx, const stark::Message &m) {
//       ctx.reply(m.tag(), m.view());
//   });
//   std::string s = echo.ask_string(1, "hi");            // throws stark::Error on failure
//
// Ownership:
//   - Runtime owns its stark_runtime and frees it in its destructor (which
//     stops every actor first). It is move-only.
//   - Actor is a plain value (the runtime handle and the actor's ref): both
//     are 64-bit handles, so using an Actor after its runtime was freed is a
//     stark::Error (STARK_NOT_FOUND), never a crash.
//   - A handler is a std::function moved to the heap; the actor's user_data
//     owns it and the runtime deletes it (free_user_data) once the actor has
//     terminated.
//   - Reply owns a stark_reply (stark_reply_free in its destructor); Buffer
//     owns one reference to a pooled buffer (copy = stark_buffer_retain,
//     destructor = stark_buffer_release, sending moves the reference out).
//
// Errors: every failing call throws stark::Error, carrying the status and
// stark_last_error() of the calling thread. A handler may throw: the
// trampoline catches everything (no exception ever crosses into the
// library), records the message with stark_ctx_fail and fails the actor
// (a waiting ask then throws Error with STARK_FAILED).
#ifndef STARK_HPP
#define STARK_HPP

#include <stark.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stark {

// Error is a failed call: its status and the library's message.
class Error : public std::runtime_error {
  public:
    Error(stark_status status, const std::string &what)
        : std::runtime_error(what + ": " + stark_status_name(status) + ": " + stark_last_error()),
          status_(status) {}
    stark_status status() const noexcept { return status_; }

  private:
    stark_status status_;
};

// check throws Error for any status other than STARK_OK.
inline void check(stark_status st, const char *what) {
    if (st != STARK_OK) throw Error(st, what);
}

// Nanoseconds, for timeouts (0: the runtime's default).
using nanos = std::uint64_t;
constexpr nanos seconds(double s) { return static_cast<nanos>(s * 1e9); }

// Reply owns the reply of an ask.
class Reply {
  public:
    Reply() noexcept { r_.struct_size = sizeof r_; }
    ~Reply() { stark_reply_free(&r_); }
    Reply(Reply &&o) noexcept : r_(o.r_) {
        std::memset(&o.r_, 0, sizeof o.r_);
        o.r_.struct_size = sizeof o.r_;
    }
    Reply &operator=(Reply &&o) noexcept {
        if (this != &o) {
            stark_reply_free(&r_);
            r_ = o.r_;
            std::memset(&o.r_, 0, sizeof o.r_);
            o.r_.struct_size = sizeof o.r_;
        }
        return *this;
    }
    Reply(const Reply &) = delete;
    Reply &operator=(const Reply &) = delete;

    std::uint32_t tag() const noexcept { return r_.tag; }
    stark_ref sender() const noexcept { return r_.sender; }
    const std::uint8_t *data() const noexcept { return static_cast<const std::uint8_t *>(r_.data); }
    std::size_t size() const noexcept { return r_.len; }
    std::string_view view() const noexcept { return {static_cast<const char *>(r_.data), r_.len}; }
    std::string str() const { return std::string(view()); }
    std::vector<std::uint8_t> bytes() const { return {data(), data() + size()}; }

    stark_reply *raw() noexcept { return &r_; }

  private:
    stark_reply r_{};
};

// Buffer owns one reference to a pooled buffer of a runtime.
class Buffer {
  public:
    Buffer() noexcept = default;
    // Adopts a reference the caller owns (stark_buffer_alloc, stark_ctx_take_buffer).
    Buffer(stark_runtime rt, stark_buffer h) noexcept : rt_(rt), h_(h) {}
    ~Buffer() { reset(); }
    Buffer(const Buffer &o) : rt_(o.rt_), h_(o.h_) {
        if (h_ != 0) check(stark_buffer_retain(rt_, h_), "stark_buffer_retain");
    }
    Buffer &operator=(const Buffer &o) {
        if (this != &o) {
            Buffer copy(o);
            swap(copy);
        }
        return *this;
    }
    Buffer(Buffer &&o) noexcept : rt_(o.rt_), h_(std::exchange(o.h_, 0)) {}
    Buffer &operator=(Buffer &&o) noexcept {
        if (this != &o) {
            reset();
            rt_ = o.rt_;
            h_ = std::exchange(o.h_, 0);
        }
        return *this;
    }
    void swap(Buffer &o) noexcept {
        std::swap(rt_, o.rt_);
        std::swap(h_, o.h_);
    }

    // Drops this reference (the last one returns the memory to the pool).
    void reset() noexcept {
        if (h_ != 0) stark_buffer_release(rt_, std::exchange(h_, 0));
    }
    // Gives the reference up to the caller (e.g. to stark_send_buffer).
    stark_buffer release() noexcept { return std::exchange(h_, 0); }

    explicit operator bool() const noexcept { return h_ != 0; }
    stark_buffer handle() const noexcept { return h_; }
    std::uint8_t *data() const {
        void *p = nullptr;
        check(stark_buffer_data(rt_, h_, &p, nullptr), "stark_buffer_data");
        return static_cast<std::uint8_t *>(p);
    }
    std::size_t size() const {
        std::size_t n = 0;
        check(stark_buffer_data(rt_, h_, nullptr, &n), "stark_buffer_data");
        return n;
    }
    void resize(std::size_t n) { check(stark_buffer_set_len(rt_, h_, n), "stark_buffer_set_len"); }
    std::string_view view() const { return {reinterpret_cast<const char *>(data()), size()}; }

  private:
    stark_runtime rt_ = 0;
    stark_buffer h_ = 0;
};

// Message is the message in hand, valid during the handler call only.
class Message {
  public:
    explicit Message(const stark_msg *m) noexcept : m_(m) {}
    std::uint32_t tag() const noexcept { return m_->tag; }
    stark_ref sender() const noexcept { return m_->sender; }
    bool is_ask() const noexcept { return m_->is_ask != 0; }
    const std::uint8_t *data() const noexcept { return static_cast<const std::uint8_t *>(m_->data); }
    std::size_t size() const noexcept { return m_->len; }
    std::string_view view() const noexcept { return {static_cast<const char *>(m_->data), m_->len}; }
    stark_buffer buffer() const noexcept { return m_->buffer; }
    const stark_msg *raw() const noexcept { return m_; }

  private:
    const stark_msg *m_;
};

// Context is an actor's view of the runtime, valid during the handler call only.
class Context {
  public:
    explicit Context(stark_ctx c) noexcept : c_(c) {}
    stark_ref self() const {
        stark_ref r = 0;
        check(stark_ctx_self(c_, &r), "stark_ctx_self");
        return r;
    }
    void reply(std::uint32_t tag, std::string_view data = {}) const {
        check(stark_ctx_reply(c_, tag, data.data(), data.size()), "stark_ctx_reply");
    }
    void send(stark_ref to, std::uint32_t tag, std::string_view data = {}) const {
        check(stark_ctx_send(c_, to, tag, data.data(), data.size()), "stark_ctx_send");
    }
    // Takes the pooled buffer of the message in hand (it outlives the handler).
    Buffer take_buffer() const {
        stark_runtime rt = 0;
        stark_buffer b = 0;
        check(stark_ctx_runtime(c_, &rt), "stark_ctx_runtime");
        check(stark_ctx_take_buffer(c_, &b), "stark_ctx_take_buffer");
        return Buffer(rt, b);
    }
    stark_ctx raw() const noexcept { return c_; }

  private:
    stark_ctx c_;
};

// A handler: throw to fail the actor (the exception's what() is the reason).
using Handler = std::function<void(Context &, const Message &)>;

namespace detail {
inline stark_status handle(stark_ctx ctx, const stark_msg *msg, void *ud) noexcept {
    try {
        Context c(ctx);
        Message m(msg);
        (*static_cast<Handler *>(ud))(c, m);
        return STARK_OK;
    } catch (const Error &e) {
        stark_ctx_fail(ctx, e.what());
        return e.status();
    } catch (const std::exception &e) {
        stark_ctx_fail(ctx, e.what());
        return STARK_FAILED;
    } catch (...) {
        stark_ctx_fail(ctx, "unknown C++ exception");
        return STARK_FAILED;
    }
}
inline void free_handler(void *ud) noexcept { delete static_cast<Handler *>(ud); }
} // namespace detail

// Actor names one actor of a runtime.
class Actor {
  public:
    Actor() noexcept = default;
    Actor(stark_runtime rt, stark_ref ref) noexcept : rt_(rt), ref_(ref) {}
    stark_ref ref() const noexcept { return ref_; }

    void send(std::uint32_t tag, std::string_view data = {}) const {
        check(stark_send(rt_, ref_, tag, data.data(), data.size()), "stark_send");
    }
    // Sends a pooled buffer without copying: buf's reference moves into the
    // message (buf is empty afterwards, whatever the result).
    void send(std::uint32_t tag, Buffer &&buf) const {
        Buffer b(std::move(buf));
        check(stark_send_buffer(rt_, ref_, tag, b.release()), "stark_send_buffer");
    }
    Reply ask(std::uint32_t tag, std::string_view data = {}, nanos timeout = 0) const {
        Reply r;
        check(stark_ask(rt_, ref_, tag, data.data(), data.size(), timeout, r.raw()), "stark_ask");
        return r;
    }
    std::string ask_string(std::uint32_t tag, std::string_view data = {}, nanos timeout = 0) const {
        return ask(tag, data, timeout).str();
    }
    std::vector<std::uint8_t> ask_bytes(std::uint32_t tag, const std::vector<std::uint8_t> &data,
                                        nanos timeout = 0) const {
        Reply r;
        check(stark_ask(rt_, ref_, tag, data.data(), data.size(), timeout, r.raw()), "stark_ask");
        return r.bytes();
    }
    void stop() const { check(stark_stop(rt_, ref_), "stark_stop"); }
    bool alive() const { return stark_alive(rt_, ref_) == STARK_OK; }

  private:
    stark_runtime rt_ = 0;
    stark_ref ref_ = 0;
};

// Runtime owns a stark_runtime.
class Runtime {
  public:
    Runtime() { check(stark_runtime_new(nullptr, &h_), "stark_runtime_new"); }
    explicit Runtime(const stark_config &cfg) { check(stark_runtime_new(&cfg, &h_), "stark_runtime_new"); }
    ~Runtime() {
        if (h_ != 0) stark_runtime_free(h_);
    }
    Runtime(Runtime &&o) noexcept : h_(std::exchange(o.h_, 0)) {}
    Runtime &operator=(Runtime &&o) noexcept {
        if (this != &o) {
            if (h_ != 0) stark_runtime_free(h_);
            h_ = std::exchange(o.h_, 0);
        }
        return *this;
    }
    Runtime(const Runtime &) = delete;
    Runtime &operator=(const Runtime &) = delete;

    stark_runtime handle() const noexcept { return h_; }

    // Spawns a native actor running handler (moved to the heap, owned by
    // the actor, deleted after it terminated).
    Actor spawn(Handler handler, const stark_spawn_opts *opts = nullptr) const {
        auto *h = new Handler(std::move(handler));
        stark_actor_def def{};
        def.struct_size = sizeof def;
        def.handle = detail::handle;
        def.user_data = h;
        def.free_user_data = detail::free_handler;
        stark_ref ref = 0;
        stark_status st = stark_spawn(h_, &def, opts, &ref);
        if (st == STARK_INVALID) delete h; // nothing was taken; otherwise the runtime frees it
        check(st, "stark_spawn");
        return Actor(h_, ref);
    }

    Buffer alloc(std::size_t size) const {
        stark_buffer b = 0;
        check(stark_buffer_alloc(h_, size, &b), "stark_buffer_alloc");
        return Buffer(h_, b);
    }

    stark_counters counters(stark_ref ref = 0) const {
        stark_counters c{};
        c.struct_size = sizeof c;
        check(stark_counters_get(h_, ref, &c), "stark_counters_get");
        return c;
    }

    // Stops every actor (after timeout, kills the rest); the destructor frees.
    void shutdown(nanos timeout = 0) { check(stark_runtime_shutdown(h_, timeout), "stark_runtime_shutdown"); }

  private:
    stark_runtime h_ = 0;
};

} // namespace stark

#endif // STARK_HPP
