// stream_state's members: the read buffer, the background flush and submitted writes, and
// the closing rules, the same for every transport (see stream_state.hpp).

#include "stream_state.hpp"

#include "corio/join_handle.hpp"

#include <cerrno>

namespace corio::detail {

// --- stream_state ----------------------------------------------------------------------

void stream_state::make_room(std::size_t want) {
    const std::size_t have = buffered();
    if (rcap >= have + want && rbegin > 0) {
        std::memmove(rbuf.get(), rbuf.get() + rbegin, have);
    } else {
        std::size_t cap = std::max(rcap, initial_read_buffer);
        while (cap < have + want) {
            cap *= 2;
        }
        auto bigger = std::make_unique_for_overwrite<char[]>(cap);
        if (have > 0) {
            std::memcpy(bigger.get(), rbuf.get() + rbegin, have);
        }
        rbuf = std::move(bigger);
        rcap = cap;
    }
    rbegin = 0;
    rend = have;
}

void stream_state::begin_read(const char* operation) {
    if (!has_read_side && !closing) {
        throw invalid_state_error(std::string(operation) + ": " + name + " has no read end");
    }
    if (reading) {
        throw invalid_state_error(std::string(operation) +
                                  ": another task is already reading from " + name);
    }
    reading = true;
}

bool stream_state::read_wait::on_cancel(waiter& w) noexcept {
    auto* self = static_cast<read_wait*>(w.context);
    if (self->m_state->data_waiter == &w) {
        self->m_state->data_waiter = nullptr;
    }
    self->m_parked = false;
    return true;
}

void stream_state::read_wait::describe(const waiter& w, std::string& out) {
    const stream_state& s = *static_cast<const read_wait*>(w.context)->m_state;
    out += "data from " + s.name;
    if (const int fd = s.t->fd(); fd >= 0) {
        out += " (fd " + std::to_string(fd) + ")";
    }
}

void stream_state::catch_up() {
    if (push_reads || !has_read_side) {
        return; // the transport delivers as data arrives
    }
    while (!eof && !closing && buffered() <= pause_at()) {
        if (filled(t->read_arrived(room(0))) <= 0) {
            return;
        }
    }
}

bool stream_state::eof_arrived() noexcept {
    if (eof || closing) {
        return buffered() == 0;
    }
    if (buffered() > 0 || push_reads || !has_read_side) {
        return false;
    }
    if (!t->eof_arrived()) {
        return false;
    }
    eof = true;
    return true;
}

void stream_state::check_writable(const char* operation) const {
    if (closing) {
        throw invalid_state_error(std::string(operation) + ": " + name + " is closed");
    }
    if (eof_requested) {
        throw invalid_state_error(std::string(operation) + ": " + name +
                                  " was shut down for writing (write_eof)");
    }
    if (starting_tls) {
        throw invalid_state_error(std::string(operation) + ": " + name +
                                  " is starting TLS (await start_tls first)");
    }
    if (!has_write_side) {
        throw invalid_state_error(std::string(operation) + ": " + name + " has no write end");
    }
}

void stream_state::write(const char* data, std::size_t size) {
    check_writable("write");
    if (size == 0 || write_error) {
        return;
    }
    if (submit_writes) {
        if (flushing) {
            wbuf.append(data, size); // sent when the write in flight completes
            return;
        }
        // Nothing in flight, so nothing buffered either: hand the bytes over in `sending`.
        sending.append(data, size);
        soff = 0;
        try {
            submit_send();
        } catch (...) {
            sending.clear();
            throw;
        }
        flushing = true;
        return;
    }
    if (pending() == 0) {
        std::ptrdiff_t n = 0;
        try {
            n = transport_try_write(std::span<const char>(data, size));
        } catch (const std::exception&) {
            write_failed(std::current_exception());
            return;
        }
        if (n == static_cast<std::ptrdiff_t>(size)) {
            return;
        }
        if (n > 0) {
            data += n;
            size -= static_cast<std::size_t>(n);
        }
    }
    wbuf.append(data, size);
    start_flush();
}

void stream_state::write_failed(std::exception_ptr error) noexcept {
    write_error = std::move(error);
    wbuf.clear();
    if (!write_in_flight) {
        sending.clear();
        soff = 0;
    }
    drain_waiters.wake_all();
}

void stream_state::submit_send() {
    const std::span<const char> data(sending.data() + soff, sending.size() - soff);
    if (fd_fast != nullptr) {
        fd_fast->submit_write(data, *this);
    } else {
        t->submit_write(data, *this);
    }
    write_in_flight = true;
    add_ref(); // the write's reference
}

void stream_state::on_written(std::ptrdiff_t result) {
    write_in_flight = false;
    if (result > 0) {
        soff += static_cast<std::size_t>(result);
    } else if (result < 0 && result != -EAGAIN && result != -EINTR && !closed) {
        write_failed(static_cast<int>(-result));
    }
    const bool done = closed || write_error;
    if (done || soff == sending.size()) {
        sending.clear(); // the transport is done with it
        soff = 0;
    }
    if (pending() <= low_water) {
        drain_waiters.wake_all();
    }
    if (done || pending() == 0) {
        after_flush();
    } else {
        if (sending.empty()) {
            std::swap(sending, wbuf); // wbuf takes the emptied buffer, capacity kept
        }
        try {
            submit_send();
        } catch (const std::exception&) {
            write_failed(std::current_exception());
            after_flush();
        }
    }
    release(); // the write's reference
}

namespace {

/// The background flush: hands the write buffer to the transport as it takes it, then
/// finishes a write_eof or close requested meanwhile. One at a time per stream. What the
/// transport holds (`sending`) is never touched by writes meanwhile, which append to wbuf.
task<> flush_buffer(state_ref ref) {
    stream_state& s = *ref;
    struct finish {
        stream_state& s;
        ~finish() { s.after_flush(); }
    } finally{s};
    while (s.pending() > 0 && !s.closed && !s.write_error) {
        if (s.soff == s.sending.size()) {
            s.sending.clear();
            s.soff = 0;
            std::swap(s.sending, s.wbuf);
        }
        std::size_t n = 0;
        try {
            s.write_in_flight = true;
            n = co_await s.t->write(
                std::span<const char>(s.sending.data() + s.soff, s.sending.size() - s.soff));
            s.write_in_flight = false;
        } catch (const std::exception&) {
            s.write_in_flight = false;
            if (!s.closed) {
                s.write_failed(std::current_exception());
            }
        }
        s.soff += n;
        if (s.pending() <= s.low_water) {
            s.drain_waiters.wake_all();
        }
    }
}

} // namespace

void stream_state::start_flush() {
    if (flushing) {
        return;
    }
    flushing = true;
    try {
        spawn_on(*loop, flush_buffer(state_ref(*this)), "corio.stream.flush");
    } catch (...) {
        flushing = false;
        throw;
    }
}

void stream_state::after_flush() noexcept {
    flushing = false;
    write_in_flight = false;
    if (pending() == 0 || closed) {
        wbuf.clear();
        sending.clear();
        soff = 0;
    }
    drain_waiters.wake_all();
    if (closed) {
        return;
    }
    if (eof_requested && !eof_sent && !write_error && pending() == 0) {
        shutdown_write();
    }
    if (closing) {
        finish_close();
    }
}

void stream_state::shutdown_write() noexcept {
    eof_sent = true;
    try {
        t->shutdown_write();
    } catch (const std::exception&) {
        write_failed(std::current_exception());
    }
}

void stream_state::write_eof() {
    if (closing || eof_requested) {
        return;
    }
    if (!has_write_side) {
        throw invalid_state_error("write_eof: " + name + " has no write end");
    }
    eof_requested = true;
    if (!flushing) {
        shutdown_write();
    }
}

void stream_state::finish_close(bool dropping) noexcept {
    if (closed) {
        return;
    }
    closed = true;
    receiving = false;
    // Wakes a pending read (it finds the stream closed) and a pending write of the flush.
    if (dropping) {
        t->abort();
    } else {
        t->close();
    }
    wake_reader();
    drain_waiters.wake_all();
    closed_waiters.wake_all();
}

void stream_state::close() noexcept {
    if (closing) {
        return;
    }
    closing = true;
    if (!flushing) {
        finish_close();
        return;
    }
    end_reading();
}

/// A read pending in another task returns end of stream, as later reads do once the
/// buffer is empty (fill and fill_from_completions see `closing`).
void stream_state::end_reading() noexcept {
    if (!has_read_side) {
        return;
    }
    if (push_reads) {
        if (receiving) {
            receiving = false;
            t->pause_receive();
        }
        wake_reader();
        return;
    }
    if (reading) {
        t->shutdown_read(); // the reader waits in the transport's read: end it
    }
}

void stream_state::abort() noexcept {
    if (!closed && !write_error) {
        aborted = true;
        dropped = pending();
    }
    closing = true;
    wbuf.clear();
    finish_close(true);
}

void stream_state::throw_aborted() const {
    std::string what = "drain " + name + ": the stream was aborted";
    if (dropped > 0) {
        what += ", dropping " + std::to_string(dropped) + " buffered bytes not yet sent";
    }
    throw std::system_error(ECONNABORTED, std::generic_category(), what);
}

} // namespace corio::detail
