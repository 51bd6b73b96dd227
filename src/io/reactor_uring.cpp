// The io_uring reactor at work: readiness polls, the multishot receive, operations, and
// reaping their completions (the class and the kernel facts it relies on:
// reactor_uring.hpp; setting the ring up: reactor_uring_setup.cpp). All of it is on the
// path of every I/O operation, and is kept in one file so that the whole path of a
// completion (reap, handle, handle_recv, complete_op) is inlined into wait().
//
// - Receives: a multishot IORING_OP_RECV per stream socket (a re-armed IORING_OP_READ per
//   pipe: multishot read is Linux 6.7) into the ring of provided buffers. The kernel picks
//   a buffer for each completion (IORING_CQE_F_BUFFER, its id in the flags); corio copies
//   it to the stream's recv_sink and gives it back at once, so the ring never holds a
//   stream's memory and a stream may go away with a receive in flight. A receive ended
//   without IORING_CQE_F_MORE by running out of buffers (-ENOBUFS), overflow or a
//   cancellation is armed again (unless paused); end of stream (0) or an error reaches the
//   sink's on_end.
// - Operations (io_op: send, connect, accept): the user_data is a slot index and the slot's
//   generation. IORING_OP_ASYNC_CANCEL is asynchronous: a cancelled operation still
//   completes, with -ECANCELED or with its result if it finished first (an accepted
//   connection is kept). abandon() needs IORING_REGISTER_SYNC_CANCEL, which returns once
//   the kernel no longer uses the op's memory; a completion may still carry an accepted fd
//   after its owner is gone, so the slot stays reserved (orphan) until it is reaped, and
//   the fd is closed then.

#include "reactor.hpp"

#ifdef CORIO_HAS_URING

#include "reactor_uring.hpp"

#include "corio/errors.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <utility>

namespace corio::detail {

void uring_reactor::add(int fd, bool readable, bool writable, bool edge) {
    watch(fd, edge, edge ? (POLLIN | POLLOUT | POLLRDHUP) : level_mask(readable, writable));
}

void uring_reactor::modify(int fd, bool readable, bool writable) {
    watch(fd, false, level_mask(readable, writable));
}

void uring_reactor::remove(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= m_fds.size()) {
        return;
    }
    fd_state& s = m_fds[static_cast<std::size_t>(fd)];
    if (s.sink != nullptr) {
        stop_recv(fd);
    }
    if (!s.active) {
        return;
    }
    cancel_poll(fd, s);
    ++s.generation;
    s.active = false;
    // The poll holds a reference to the file: until its removal reaches the kernel, a
    // close() of the fd would not close the socket (a listener would go on accepting).
    io_uring_submit_and_get_events(&m_ring);
}

void uring_reactor::watch(int fd, bool edge, std::uint32_t mask) {
    fd_state& s = slot(fd);
    if (s.active) {
        cancel_poll(fd, s);
    }
    ++s.generation;
    s.active = true;
    s.edge = edge;
    s.mask = mask;
    arm(fd, s);
}

void uring_reactor::arm(int fd, const fd_state& s) {
    io_uring_sqe* e = sqe();
    if (s.edge) {
        io_uring_prep_poll_multishot(e, fd, s.mask);
    } else {
        io_uring_prep_poll_add(e, fd, s.mask);
    }
    io_uring_sqe_set_data64(e, user_data(fd, s.generation));
}

void uring_reactor::cancel_poll(int fd, const fd_state& s) noexcept {
    if (io_uring_sqe* e = sqe_for_cancel()) {
        io_uring_prep_poll_remove(e, user_data(fd, s.generation));
        io_uring_sqe_set_data64(e, ignored);
    }
}

std::size_t uring_reactor::wait(std::int64_t timeout_ns, std::vector<reactor_event>& out) {
    int rc = 0;
    if (timeout_ns == 0) {
        rc = io_uring_submit_and_get_events(&m_ring);
    } else if (timeout_ns < 0) {
        rc = io_uring_submit_and_wait(&m_ring, 1);
    } else {
        __kernel_timespec ts{};
        ts.tv_sec = timeout_ns / 1'000'000'000;
        ts.tv_nsec = timeout_ns % 1'000'000'000;
        io_uring_cqe* cqe = nullptr;
        rc = io_uring_submit_and_wait_timeout(&m_ring, &cqe, 1, &ts, nullptr);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
        throw std::system_error(-rc, std::generic_category(), "io_uring_enter");
    }
    return reap(out);
}

inline std::size_t uring_reactor::reap(std::vector<reactor_event>& out) {
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0;
    unsigned seen = 0;
    m_delivered = 0;
    io_uring_for_each_cqe(&m_ring, head, cqe) {
        ++seen;
        handle(*cqe, out);
    }
    io_uring_cq_advance(&m_ring, seen);
    // Operations complete after the queue is advanced: their callbacks may submit,
    // cancel or abandon other operations (and so enter the kernel).
    std::swap(m_completed, m_completing);
    for (const completed_op& c : m_completing) {
        if (op_slot* o = slot_of(c.data); o != nullptr && complete_op(*o, c.result)) {
            ++m_delivered;
        }
    }
    m_completing.clear();
    return m_delivered;
}

inline void uring_reactor::handle(const io_uring_cqe& cqe, std::vector<reactor_event>& out) {
    const std::uint64_t data = io_uring_cqe_get_data64(&cqe);
    if (data == ignored) {
        return;
    }
    if ((data & recv_tag) != 0) {
        handle_recv(cqe, data);
        return;
    }
    if ((data & op_tag) != 0) {
        m_completed.push_back({data, cqe.res});
        return;
    }
    const auto fd = static_cast<int>(data & 0xffffffffU);
    const std::uint32_t generation = data_generation(data);
    if (static_cast<std::size_t>(fd) >= m_fds.size()) {
        return;
    }
    fd_state& s = m_fds[static_cast<std::size_t>(fd)];
    if (!s.active || (s.generation & generation_mask) != generation) {
        return; // a registration removed since
    }
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    if (cqe.res == -ECANCELED) {
        arm(fd, s);
        return;
    }
    // An error from the poll itself (EBADF: closed under us) wakes both directions;
    // the next system call on the fd reports what is wrong.
    const auto events =
        cqe.res < 0 ? static_cast<std::uint32_t>(POLLERR) : static_cast<std::uint32_t>(cqe.res);
    const bool failed = (events & (POLLERR | POLLHUP)) != 0;
    out.push_back({fd, failed || (events & (POLLIN | POLLRDHUP)) != 0,
                   failed || (events & POLLOUT) != 0, failed || (events & POLLRDHUP) != 0});
    if (!more && cqe.res >= 0) {
        arm(fd, s); // level polls are one-shot; a multishot one the kernel ended
    }
}

void uring_reactor::cancel_all() noexcept {
    io_uring_submit(&m_ring);
    io_uring_sync_cancel_reg reg{};
    reg.flags = IORING_ASYNC_CANCEL_ANY;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    io_uring_register_sync_cancel(&m_ring, &reg);
    for (std::size_t i = 0; i < m_ops.size(); ++i) { // callbacks may add slots
        if (m_ops[i].op != nullptr) {
            complete_op(m_ops[i], -ECANCELED);
        }
    }
}

void uring_reactor::flush() {
    if (io_uring_sq_ready(&m_ring) > 0) {
        const int rc = io_uring_submit(&m_ring);
        if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR) {
            throw std::system_error(-rc, std::generic_category(), "io_uring_submit");
        }
    }
}

void uring_reactor::forget(int fd, bool registered) noexcept {
    fd_state* s = existing(fd);
    if (s == nullptr) {
        return;
    }
    if (!m_sync_cancel) {
        // Before 6.0: no operations (they need the synchronous cancellation), only the
        // poll and the receive, removed as the base reactor does.
        reactor::forget(fd, registered);
        return;
    }
    const bool in_kernel = s->active || s->recv_armed || s->ops > 0;
    // Whatever is still on its way for the fd is stale from here (generations).
    s->sink = nullptr;
    s->pausing = false;
    s->recv_armed = false;
    ++s->recv_generation;
    if (s->active) {
        ++s->generation;
        s->active = false;
    }
    if (!in_kernel) {
        return;
    }
    // Everything on the fd, synchronously: its poll, its receive and its operations
    // hold references to the file, so until they are gone a close() would not close
    // it (a pipe's reader would never see end of file). An asynchronous removal can
    // also fail with EALREADY while the request is being completed, and a multishot
    // one then stays armed; the synchronous cancellation waits that out. Submissions
    // still queued for the fd go first: after the close, its number may be reused.
    io_uring_submit(&m_ring);
    io_uring_sync_cancel_reg reg{};
    reg.fd = fd;
    reg.flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    io_uring_register_sync_cancel(&m_ring, &reg);
    // With DEFER_TASKRUN the cancelled requests are freed (and let go of the file) by
    // task work that runs only when the ring is entered for events.
    if ((m_setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0) {
        io_uring_submit_and_get_events(&m_ring);
    }
    // Operations complete with -ECANCELED at the next reap; their slots keep them
    // counted on the fd until then.
}

bool uring_reactor::supports_recv() const noexcept {
    if (!m_recv_setup_tried) {
        m_recv_setup_tried = true;
        const_cast<uring_reactor*>(this)->setup_recv_buffers();
    }
    return m_buf_ring != nullptr;
}

void uring_reactor::start_recv(int fd, recv_sink& sink) {
    fd_state& s = slot(fd);
    if (s.sink != nullptr && s.sink != &sink) {
        stop_recv(fd);
    }
    s.sink = &sink;
    s.pausing = false; // a pause still draining ends in a re-arm instead
    if (!s.recv_armed) {
        arm_recv(fd, s);
        s.recv_armed = true;
    }
}

void uring_reactor::pause_recv(int fd) noexcept {
    fd_state* s = existing(fd);
    if (s == nullptr || s->sink == nullptr || !s->recv_armed || s->pausing) {
        return;
    }
    // Data already received keeps reaching the sink until the receive's last
    // completion: pausing loses nothing.
    s->pausing = true;
    if (s->sink->socket) {
        submit_cancel(recv_tag | user_data(fd, s->recv_generation), false);
    } // a pipe's read is one-shot: its completion ends it
}

void uring_reactor::stop_recv(int fd) noexcept {
    fd_state* s = existing(fd);
    if (s == nullptr || (s->sink == nullptr && !s->recv_armed)) {
        return;
    }
    s->sink = nullptr;
    s->pausing = false;
    if (s->recv_armed) {
        // At once: the receive holds a reference to the file, so a close() that
        // follows would not close the socket until the cancellation reached the kernel.
        submit_cancel(recv_tag | user_data(fd, s->recv_generation), true);
        s->recv_armed = false;
    }
    // Completions still on their way carry the old generation: their buffers go back
    // to the ring and nothing reaches a sink.
    ++s->recv_generation;
}

void uring_reactor::arm_recv(int fd, const fd_state& s) {
    io_uring_sqe* e = sqe();
    if (s.sink->socket) {
        io_uring_prep_recv_multishot(e, fd, nullptr, 0, 0);
    } else {
        // A pipe: one read per submission (multishot read is Linux 6.7), re-armed as
        // each completes.
        io_uring_prep_read(e, fd, nullptr, recv_buffer_size, std::uint64_t(-1));
    }
    e->flags |= IOSQE_BUFFER_SELECT;
    e->buf_group = recv_group;
    io_uring_sqe_set_data64(e, recv_tag | user_data(fd, s.recv_generation));
}

inline void uring_reactor::handle_recv(const io_uring_cqe& cqe, std::uint64_t data) {
    const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
    const auto id = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    const auto fd = static_cast<int>(data & 0xffffffffU);
    const std::uint32_t generation = data_generation(data);
    fd_state* s = existing(fd);
    const bool live = s != nullptr && (s->recv_generation & generation_mask) == generation;
    if (live && s->sink != nullptr && cqe.res > 0 && has_buffer) {
        ++m_delivered;
        s->sink->on_data(*s->sink, m_buffers.get() + std::size_t{id} * recv_buffer_size,
                         static_cast<std::size_t>(cqe.res));
    }
    if (has_buffer) {
        give_back(id, 0);
        io_uring_buf_ring_advance(m_buf_ring, 1);
    }
    // The sink may have paused or stopped the receive during on_data.
    if (!live || (s->recv_generation & generation_mask) != generation ||
        (cqe.flags & IORING_CQE_F_MORE) != 0) {
        return;
    }
    s->recv_armed = false; // that was its last completion
    if (s->sink == nullptr) {
        return;
    }
    if (cqe.res > 0 || cqe.res == -ENOBUFS || cqe.res == -ECANCELED || cqe.res == -EAGAIN) {
        if (s->pausing) {
            s->pausing = false; // paused: start_recv arms it again
        } else {
            arm_recv(fd, *s); // ended by the kernel (buffers ran out, overflow): again
            s->recv_armed = true;
        }
        return;
    }
    recv_sink* sink = std::exchange(s->sink, nullptr);
    ++s->recv_generation;
    ++m_delivered;
    sink->on_end(*sink, cqe.res == 0 ? 0 : -cqe.res);
}

void uring_reactor::submit(io_op& op) {
    if (op.token != 0) {
        throw invalid_state_error("io_uring reactor: operation on fd " + std::to_string(op.fd) +
                                  " submitted twice");
    }
    fd_state& f = slot(op.fd);
    io_uring_sqe* e = sqe();
    std::uint32_t index = 0;
    if (m_free_ops.empty()) {
        index = static_cast<std::uint32_t>(m_ops.size());
        m_ops.emplace_back();
    } else {
        index = m_free_ops.back();
        m_free_ops.pop_back();
    }
    op_slot& o = m_ops[index];
    o.op = &op;
    o.kind = op.op;
    const std::uint64_t data =
        op_tag | (std::uint64_t{o.generation & generation_mask} << 32) | index;
    switch (op.op) {
    case io_op::kind::send:
        io_uring_prep_send(e, op.fd, op.data, op.size, MSG_NOSIGNAL);
        break;
    case io_op::kind::connect:
        io_uring_prep_connect(e, op.fd, static_cast<const sockaddr*>(op.data),
                              static_cast<socklen_t>(op.size));
        break;
    case io_op::kind::accept:
        io_uring_prep_accept(e, op.fd, static_cast<sockaddr*>(op.address), op.address_size,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
    }
    io_uring_sqe_set_data64(e, data);
    op.token = data;
    ++f.ops;
    ++m_live_ops;
}

void uring_reactor::cancel(io_op& op) noexcept {
    if (op.token != 0) {
        submit_cancel(op.token, false);
    }
}

void uring_reactor::abandon(io_op& op) noexcept {
    if (op.token == 0) {
        return;
    }
    // The op may still be in the submission queue: hand it to the kernel first, or the
    // synchronous cancellation would not find it.
    io_uring_submit(&m_ring);
    io_uring_sync_cancel_reg reg{};
    reg.addr = op.token;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    io_uring_register_sync_cancel(&m_ring, &reg);
    // The kernel is done with the op's memory. Its completion is still to come (it
    // may have finished first); the slot stays reserved for it, so that an accepted
    // connection it carries is closed rather than leaked.
    if (op_slot* o = slot_of(op.token)) {
        o->op = nullptr;
        o->orphan = true;
    }
    count_op_out(op);
}

inline bool uring_reactor::complete_op(op_slot& o, int result) {
    if (o.orphan) {
        if (o.kind == io_op::kind::accept && result >= 0) {
            ::close(result); // accepted for an owner that is gone
        }
        free_slot(o);
        return false;
    }
    io_op* op = o.op;
    free_slot(o);
    count_op_out(*op);
    op->on_complete(*op, result);
    return true;
}

} // namespace corio::detail

#endif
