// main.cpp: the C++ wrapper (stark.hpp) in use: an echo actor, a counter
// actor with state, a pooled buffer sent without copying, and an ask that
// fails (the handler throws; the asker gets a stark::Error).
//
//   g++ -std=c++17 -Wall -Wextra -Werror main.cpp $(pkg-config --cflags --libs stark)
#include "stark.hpp"

#include <cstdio>
#include <string>

enum : std::uint32_t { ECHO = 1, ADD = 1, GET = 2 };

int main() {
    try {
        stark::Runtime rt;

        // An echo actor from a lambda.
        stark::Actor echo = rt.spawn([](stark::Context &ctx, const stark::Message &m) { ctx.reply(m.tag(), m.view()); });
        std::printf("echo    -> \"%s\"\n", echo.ask_string(ECHO, "hello from C++").c_str());
        std::vector<std::uint8_t> bytes = echo.ask_bytes(ECHO, {0xde, 0xad, 0xbe, 0xef});
        std::printf("echo    -> %zu bytes, first %#x\n", bytes.size(), bytes.at(0));

        // A counter: its state lives in the lambda, owned by the actor.
        // "add" takes a decimal number; std::stoll throws on anything else,
        // which fails the actor (and the ask).
        stark::Actor counter = rt.spawn([total = 0LL](stark::Context &ctx, const stark::Message &m) mutable {
            switch (m.tag()) {
            case ADD:
                total += std::stoll(std::string(m.view()));
                break;
            case GET:
                break;
            default:
                throw std::runtime_error("counter: unknown tag " + std::to_string(m.tag()));
            }
            if (m.is_ask()) ctx.reply(m.tag(), std::to_string(total));
        });
        for (const char *n : {"5", "10", "27"})
            std::printf("add %-3s -> %s\n", n, counter.ask_string(ADD, n).c_str());

        // A pooled buffer: the copy retains it (two references, one handle),
        // sending moves one reference into the message, the destructor of
        // the other releases the last.
        {
            stark::Buffer buf = rt.alloc(8);
            std::memcpy(buf.data(), "100", 3);
            buf.resize(3);
            stark::Buffer keep = buf; // stark_buffer_retain
            counter.send(ADD, std::move(buf));
            std::printf("sent buffer \"%.*s\" without a copy (buf now %s, keep still reads \"%.*s\")\n",
                        static_cast<int>(keep.view().size()), keep.view().data(), buf ? "set" : "empty",
                        static_cast<int>(keep.view().size()), keep.view().data());
        } // keep: stark_buffer_release
        std::printf("get     -> %s\n", counter.ask_string(GET).c_str());

        // An ask that fails: the handler throws, the ask throws stark::Error.
        try {
            counter.ask_string(ADD, "not a number", stark::seconds(1));
            std::printf("the bad ask succeeded?\n");
            return 1;
        } catch (const stark::Error &e) {
            std::printf("bad add -> stark::Error, status %d (%s):\n          %s\n", e.status(),
                        stark_status_name(e.status()), e.what());
            if (e.status() != STARK_FAILED) return 1;
        }
        // The runtime restarted it (same ref, same mailbox). The lambda is the
        // actor's user_data, which lives until the actor terminates: its
        // state survived the failure.
        std::printf("get     -> %s (after the restart: the lambda's state survived)\n",
                    counter.ask_string(GET).c_str());

        stark_counters c = rt.counters();
        std::printf("runtime: accepted %llu = processed %llu + dead-lettered %llu + queued %llu\n",
                    static_cast<unsigned long long>(c.accepted), static_cast<unsigned long long>(c.processed),
                    static_cast<unsigned long long>(c.dead_lettered), static_cast<unsigned long long>(c.queued));
    } catch (const stark::Error &e) { // ~Runtime has freed the runtime by now
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
