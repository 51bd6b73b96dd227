// corio::stream: buffers and asyncio's StreamReader/StreamWriter API over a transport. The
// state and the shape of its I/O (pull or push reads, buffered or submitted writes) are
// described in stream_state.hpp; the operations are here.

#include "stream_state.hpp"

#include <cerrno>
#include <stdexcept>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace corio {

namespace detail {

// --- the operations --------------------------------------------------------------------
//
// Each loops: serve from the buffer, else fill() it without waiting, else wait (read_wait,
// or the transport's read coroutine) and look again. A read cancelled while it waits
// leaves in the buffer everything that arrived.

namespace {

task<std::string> read_impl(state_ref s, std::size_t max) {
    const read_guard guard(*s, "read");
    if (max == 0) {
        co_return std::string();
    }
    while (s->buffered() == 0) {
        std::ptrdiff_t n = s->fill(0);
        if (n < 0) {
            if (s->coroutine_reads) {
                n = s->filled(co_await s->read_with_transport(s->room(0)));
            } else {
                co_await s->wait_more(); // then look again
            }
        }
        if (n == 0) {
            co_return std::string();
        }
    }
    co_return s->take(std::min(max, s->buffered()));
}

task<std::size_t> read_into_impl(state_ref s, std::span<char> out) {
    const read_guard guard(*s, "read_into");
    if (out.empty()) {
        co_return 0;
    }
    while (true) {
        if (s->buffered() > 0) {
            const std::size_t n = std::min(out.size(), s->buffered());
            std::memcpy(out.data(), s->rdata(), n);
            s->consume(n);
            co_return n;
        }
        // Straight into the caller's memory: no copy through the buffer.
        std::ptrdiff_t n = s->read_direct(out);
        if (n < 0) {
            if (!s->coroutine_reads) {
                co_await s->wait_more();
                continue; // look again
            }
            n = co_await s->read_with_transport(out);
            if (n == 0) {
                s->eof = true;
            }
        }
        co_return static_cast<std::size_t>(n);
    }
}

task<std::string> read_exactly_impl(state_ref s, std::size_t count) {
    const read_guard guard(*s, "read_exactly");
    while (s->buffered() < count) {
        std::ptrdiff_t n = s->fill(count - s->buffered());
        if (n < 0) {
            if (s->coroutine_reads) {
                n = s->filled(co_await s->read_with_transport(s->room(count - s->buffered())));
            } else {
                co_await s->wait_more(); // then look again
            }
        }
        if (n == 0) {
            throw incomplete_read_error(s->take(s->buffered()), count);
        }
    }
    co_return s->take(count);
}

/// read_until; with `eof_returns_rest` (read_line), end of stream gives what is left.
task<std::string> read_until_impl(state_ref s, std::string sep, bool eof_returns_rest,
                                  const char* operation) {
    const read_guard guard(*s, operation);
    std::size_t searched = 0; // bytes already searched without finding sep
    bool caught_up = false;
    while (true) {
        const std::size_t have = s->buffered();
        if (have >= sep.size()) {
            const char* base = s->rdata();
            const char* end = base + have;
            const char* hit = std::search(base + searched, end, sep.begin(), sep.end());
            if (hit != end) {
                const auto at = static_cast<std::size_t>(hit - base);
                if (at > s->limit) {
                    throw limit_overrun_error("separator is found, but chunk is longer than "
                                              "limit (" +
                                                  std::to_string(s->limit) + " bytes)",
                                              at);
                }
                co_return s->take(at + sep.size());
            }
            searched = have - sep.size() + 1;
            if (searched > s->limit && !caught_up) {
                // Judge on what has arrived, as asyncio and push transports do: the
                // separator may be waiting in the transport.
                caught_up = true;
                s->catch_up();
                if (s->buffered() > have) {
                    continue;
                }
            }
            if (searched > s->limit) {
                throw limit_overrun_error("separator is not found, and chunk exceeds the "
                                          "limit (" +
                                              std::to_string(s->limit) + " bytes)",
                                          searched);
            }
        }
        std::ptrdiff_t n = s->fill(0);
        if (n < 0) {
            if (s->coroutine_reads) {
                n = s->filled(co_await s->read_with_transport(s->room(0)));
            } else {
                co_await s->wait_more(); // then look again
            }
        }
        if (n == 0) {
            if (eof_returns_rest) {
                co_return s->take(s->buffered());
            }
            throw incomplete_read_error(s->take(s->buffered()), have + 1);
        }
    }
}

task<std::string> read_all_impl(state_ref s) {
    const read_guard guard(*s, "read_all");
    while (true) {
        std::ptrdiff_t n = s->fill(s->buffered() + 1);
        if (n < 0) {
            if (s->coroutine_reads) {
                n = s->filled(co_await s->read_with_transport(s->room(s->buffered() + 1)));
            } else {
                co_await s->wait_more(); // then look again
            }
        }
        if (n == 0) {
            co_return s->take(s->buffered());
        }
    }
}

task<std::size_t> fill_impl(state_ref s, std::size_t max_buffered) {
    const read_guard guard(*s, "fill");
    const std::size_t before = s->buffered();
    while (s->buffered() == before) {
        std::ptrdiff_t n = s->fill(0, max_buffered - before);
        if (n < 0) {
            if (s->coroutine_reads) {
                n = s->filled(co_await s->read_with_transport(s->room(0, max_buffered - before)));
            } else {
                co_await s->wait_more(); // then look again
            }
        }
        if (n == 0) {
            break;
        }
    }
    co_return s->buffered() - before;
}

task<> drain_impl(state_ref s) {
    if (!s->write_error && !s->aborted && s->pending() > s->high_water) {
        while (!s->write_error && !s->closed && s->pending() > s->low_water) {
            co_await queue_wait(s->drain_waiters);
        }
    }
    if (s->write_error) {
        std::rethrow_exception(s->write_error);
    }
    if (s->aborted) {
        s->throw_aborted();
    }
}

task<> wait_closed_impl(state_ref s) {
    while (!s->closed) {
        co_await queue_wait(s->closed_waiters);
    }
    if (s->write_error) {
        std::rethrow_exception(s->write_error);
    }
}

} // namespace
} // namespace detail

// --- stream ----------------------------------------------------------------------------

stream::stream() noexcept = default;
stream::stream(std::unique_ptr<transport> t, std::size_t limit) {
    if (t == nullptr) {
        throw std::invalid_argument("stream: no transport given");
    }
    m_state = new detail::stream_state(get_running_loop(), std::move(t), limit);
}
stream::stream(stream&& other) noexcept : m_state(std::exchange(other.m_state, nullptr)) {}
stream& stream::operator=(stream&& other) noexcept {
    if (this != &other) {
        stream old(std::move(*this));
        m_state = std::exchange(other.m_state, nullptr);
    }
    return *this;
}
stream::~stream() {
    if (m_state != nullptr) {
        m_state->close();
        m_state->release();
    }
}

detail::stream_state& stream::state(const char* operation) const {
    if (m_state == nullptr) {
        throw invalid_state_error(std::string(operation) +
                                  ": empty stream (default-constructed or moved-from)");
    }
    return *m_state;
}

task<std::string> stream::read(std::size_t max) {
    return detail::read_impl(detail::state_ref(state("read")), max);
}
task<std::size_t> stream::read_into(std::span<char> out) {
    return detail::read_into_impl(detail::state_ref(state("read_into")), out);
}
task<std::string> stream::read_exactly(std::size_t n) {
    return detail::read_exactly_impl(detail::state_ref(state("read_exactly")), n);
}
task<std::string> stream::read_line() {
    return detail::read_until_impl(detail::state_ref(state("read_line")), "\n", true, "read_line");
}
task<std::string> stream::read_until(std::string_view separator) {
    auto& s = state("read_until");
    if (separator.empty()) {
        throw std::invalid_argument("read_until: empty separator");
    }
    return detail::read_until_impl(detail::state_ref(s), std::string(separator), false,
                                   "read_until");
}
task<std::string> stream::read_all() {
    return detail::read_all_impl(detail::state_ref(state("read_all")));
}
std::string_view stream::buffered() const {
    const auto& s = state("buffered");
    return {s.rdata(), s.buffered()};
}
void stream::consume(std::size_t n) {
    auto& s = state("consume");
    if (n > s.buffered()) {
        throw std::invalid_argument("consume: " + std::to_string(n) + " bytes asked, " +
                                    std::to_string(s.buffered()) + " buffered");
    }
    if (s.reading) {
        throw invalid_state_error("consume: another task is reading from " + s.name);
    }
    s.consume(n);
}
task<std::size_t> stream::fill(std::size_t max_buffered) {
    auto& s = state("fill");
    if (s.buffered() >= max_buffered) {
        throw std::invalid_argument("fill: " + std::to_string(s.buffered()) +
                                    " bytes buffered, not below max_buffered (" +
                                    std::to_string(max_buffered) + ")");
    }
    return detail::fill_impl(detail::state_ref(s), max_buffered);
}
bool stream::at_eof() const {
    return state("at_eof").eof_arrived();
}
std::size_t stream::limit() const {
    return state("limit").limit;
}

void stream::write(std::string_view data) {
    state("write").write(data.data(), data.size());
}
void stream::write(std::span<const std::byte> data) {
    state("write").write(reinterpret_cast<const char*>(data.data()), data.size());
}
task<> stream::drain() {
    return detail::drain_impl(detail::state_ref(state("drain")));
}
void stream::set_write_buffer_limits(std::size_t high, std::size_t low) {
    auto& s = state("set_write_buffer_limits");
    if (low > high) {
        throw std::invalid_argument("set_write_buffer_limits: low (" + std::to_string(low) +
                                    ") is above high (" + std::to_string(high) + ")");
    }
    s.high_water = high;
    s.low_water = low;
}
std::size_t stream::write_buffer_size() const {
    return state("write_buffer_size").pending();
}
void stream::write_eof() {
    state("write_eof").write_eof();
}
bool stream::can_write_eof() const {
    const auto& s = state("can_write_eof");
    return !s.closing && s.t->can_write_eof();
}

void stream::close() {
    state("close").close();
}
void stream::abort() {
    state("abort").abort();
}
bool stream::is_closing() const {
    return state("is_closing").closing;
}
task<> stream::wait_closed() {
    return detail::wait_closed_impl(detail::state_ref(state("wait_closed")));
}

socket_address stream::peer_address() const {
    return state("peer_address").t->peer_address();
}
socket_address stream::local_address() const {
    return state("local_address").t->local_address();
}
void stream::set_nodelay(bool enabled) {
    const auto& s = state("set_nodelay");
    const int fd = s.t->fd();
    if (fd < 0) {
        throw std::system_error(ENOTSOCK, std::generic_category(),
                                "set_nodelay " + s.name +
                                    ": not a TCP stream (its transport has no socket)");
    }
    const int on = enabled ? 1 : 0;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0) {
        detail::throw_errno(errno, "set_nodelay " + s.name + " (not a TCP stream?)");
    }
}
int stream::fd() const {
    return state("fd").t->fd();
}

} // namespace corio
