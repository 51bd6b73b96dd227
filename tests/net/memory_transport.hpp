#pragma once
// A transport written as a user would write one: an in-memory pipe pair. What one end
// writes, the other reads, through a bounded buffer (so backpressure works as with a
// socket). It waits with coroutines on corio::event and knows no fd; it also gives the
// optional fast paths try_read/try_write and eof_arrived, because they are easy here.
// The conformance suite (test_stream.cpp) runs over it as the kind "memory".

#include <corio/corio.hpp>

#include <cerrno>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>

namespace corio_net_test {

/// One direction of a memory pipe: the bytes written and not yet read.
struct memory_channel {
    explicit memory_channel(std::size_t capacity) : capacity(capacity) {}
    std::string data;
    std::size_t capacity;
    /// The writer shut down its side: once `data` is read, end of stream.
    bool eof = false;
    /// The reader closed: writes fail with EPIPE.
    bool reader_gone = false;
    /// Set when there is something to read (or the end); cleared by a reader before it waits.
    corio::event readable;
    /// Set when there is room (or the reader is gone); cleared by a writer before it waits.
    corio::event writable;
};

class memory_transport final : public corio::transport {
public:
    memory_transport(std::shared_ptr<memory_channel> in, std::shared_ptr<memory_channel> out,
                     std::string name)
        : m_in(std::move(in)), m_out(std::move(out)), m_name(std::move(name)) {}
    ~memory_transport() override { close(); }

    corio::task<std::size_t> read(std::span<char> out) override {
        while (true) {
            const std::ptrdiff_t n = try_read(out);
            if (n != would_block) {
                co_return static_cast<std::size_t>(n);
            }
            m_in->readable.clear();
            co_await m_in->readable.wait();
        }
    }

    std::ptrdiff_t try_read(std::span<char> out) override {
        if (m_read_shut || m_closed) {
            return 0;
        }
        if (m_in->data.empty()) {
            return m_in->eof ? 0 : would_block;
        }
        const std::size_t n = std::min(out.size(), m_in->data.size());
        std::memcpy(out.data(), m_in->data.data(), n);
        m_in->data.erase(0, n);
        m_in->writable.set();
        return static_cast<std::ptrdiff_t>(n);
    }

    bool eof_arrived() noexcept override {
        return !m_read_shut && !m_closed && m_in->data.empty() && m_in->eof;
    }

    corio::task<std::size_t> write(std::span<const char> data) override {
        while (true) {
            const std::ptrdiff_t n = try_write(data);
            if (n != would_block) {
                co_return static_cast<std::size_t>(n);
            }
            m_out->writable.clear();
            co_await m_out->writable.wait();
        }
    }

    std::ptrdiff_t try_write(std::span<const char> data) override {
        if (m_closed || m_out->eof || m_out->reader_gone) {
            throw std::system_error(EPIPE, std::generic_category(), "write " + m_name);
        }
        const std::size_t room = m_out->capacity - std::min(m_out->capacity, m_out->data.size());
        if (room == 0) {
            return would_block;
        }
        const std::size_t n = std::min(room, data.size());
        m_out->data.append(data.data(), n);
        m_out->readable.set();
        return static_cast<std::ptrdiff_t>(n);
    }

    void shutdown_write() override {
        m_out->eof = true;
        m_out->readable.set();
    }

    void shutdown_read() noexcept override {
        m_read_shut = true;
        m_in->readable.set(); // a pending read looks again and finds the end
    }

    void close() noexcept override {
        if (m_closed) {
            return;
        }
        m_closed = true;
        m_out->eof = true;
        m_out->readable.set();
        m_in->reader_gone = true;
        m_in->data.clear();
        m_in->writable.set();  // the peer's pending write fails
        m_in->readable.set();  // our own pending read ends
        m_out->writable.set(); // our own pending write ends
    }

    [[nodiscard]] std::string name() const override { return m_name; }

private:
    std::shared_ptr<memory_channel> m_in;
    std::shared_ptr<memory_channel> m_out;
    std::string m_name;
    bool m_read_shut = false;
    bool m_closed = false;
};

/// Two connected memory transports, `a` and `b`; `a_in` holds what `b` wrote and `a` has
/// not read yet (the counterpart of a socket's bytes in the kernel), `b_in` the reverse.
struct memory_pair {
    std::unique_ptr<memory_transport> a;
    std::unique_ptr<memory_transport> b;
    std::shared_ptr<memory_channel> a_in;
    std::shared_ptr<memory_channel> b_in;
};

/// A memory pipe pair whose directions each hold up to `capacity` bytes (a pipe's 64 KiB
/// by default), named "memory A" and "memory B" in errors.
inline memory_pair make_memory_pair(std::size_t capacity = 64 * 1024) {
    memory_pair p;
    p.a_in = std::make_shared<memory_channel>(capacity);
    p.b_in = std::make_shared<memory_channel>(capacity);
    p.a = std::make_unique<memory_transport>(p.a_in, p.b_in, "memory A");
    p.b = std::make_unique<memory_transport>(p.b_in, p.a_in, "memory B");
    return p;
}

} // namespace corio_net_test
