#pragma once
// The io_uring reactor: its class, shared by the two files that implement it.
// - reactor_uring_setup.cpp: the ring's setup and feature detection, the provided-buffer
//   ring, closing;
// - reactor_uring.cpp: readiness polls, the multishot receive, completion-based operations
//   (io_op: send, connect, accept), waiting and reaping completions, forgetting an fd.
// Compiled only with liburing (CORIO_HAS_URING).
//
// Readiness through io_uring: an edge-triggered fd gets one multishot IORING_OP_POLL_ADD
// for its life, which posts a completion each time the file's wait queue is woken with
// POLLIN, POLLOUT or POLLRDHUP (the same "report each change once" contract as EPOLLET);
// a level-triggered fd (add_reader/add_writer) gets a one-shot poll re-armed after each
// completion, which completes again at once while the fd stays ready (epoll's level mode).
//
// Everything queued during an iteration (polls, removals, operations, receives) goes to
// the kernel in the one io_uring_enter that also waits for completions: one system call
// per loop iteration, and completions are reaped in a batch.
//
// Kernel facts relied on (io_uring_enter(2), io_uring_prep_poll_multishot(3),
// io_uring_prep_recv_multishot(3), io_uring_register_buf_ring(3)):
// - A multishot request (poll, receive) stays armed while its completions carry
//   IORING_CQE_F_MORE; when one does not (overflow, buffers ran out, or the kernel
//   dropped it), it is armed again.
// - user_data names what a completion is for: an fd and a generation (polls, receives), or
//   an operation slot and its generation. Removing or cancelling bumps the generation, so
//   completions already on their way for the old registration are recognised as stale and
//   dropped, even if the fd number (or the slot) has been reused meanwhile.
// - Every request on an fd holds a reference to the file: until its removal reaches the
//   kernel, close() of the fd does not close the file. Forgetting an fd therefore cancels
//   everything on it synchronously (IORING_REGISTER_SYNC_CANCEL, 6.0).
// - Optional features are detected, not assumed: IORING_SETUP_COOP_TASKRUN (5.19),
//   SINGLE_ISSUER (6.0) and DEFER_TASKRUN (6.1) are tried first and dropped when the
//   kernel refuses them (EINVAL); multishot receive with provided buffers and the
//   synchronous cancellation that operations need are used from 6.0; each can be turned
//   off with CORIO_URING_DISABLE (uring_features, reactor.hpp).

#include "reactor.hpp"

#include <liburing.h>
#include <poll.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace corio::detail {

/// True if the running kernel is at least `major.minor`.
bool kernel_at_least(int major, int minor);

class uring_reactor final : public reactor {
public:
    /// Sets up a ring of `entries` with the most capable flags the kernel accepts.
    /// \throws std::system_error if the kernel refuses io_uring.
    uring_reactor(unsigned entries, bool thread_bound, uring_features features);
    ~uring_reactor() override;
    uring_reactor(const uring_reactor&) = delete;
    uring_reactor& operator=(const uring_reactor&) = delete;

    [[nodiscard]] corio::backend kind() const noexcept override { return corio::backend::io_uring; }

    [[nodiscard]] std::string features() const override;
    void add(int fd, bool readable, bool writable, bool edge) override;
    void modify(int fd, bool readable, bool writable) override;
    void remove(int fd) noexcept override;
    std::size_t wait(std::int64_t timeout_ns, std::vector<reactor_event>& out) override;

    /// The buffer ring is set up by the first stream that asks (most loops never receive
    /// through it, and making a loop stays cheap).
    [[nodiscard]] bool supports_recv() const noexcept override;
    void start_recv(int fd, recv_sink& sink) override;
    void pause_recv(int fd) noexcept override;
    void stop_recv(int fd) noexcept override;

    /// Operations need IORING_REGISTER_SYNC_CANCEL (Linux 6.0) for abandon().
    [[nodiscard]] bool supports_ops() const noexcept override { return m_ops_supported; }

    void submit(io_op& op) override;
    [[nodiscard]] std::size_t ops_in_flight() const noexcept override { return m_live_ops; }

    void cancel(io_op& op) noexcept override;
    void abandon(io_op& op) noexcept override;
    void flush() override;
    void cancel_all() noexcept override;
    void forget(int fd, bool registered) noexcept override;

private:
    /// user_data of submissions whose completion nobody needs (poll removals).
    static constexpr std::uint64_t ignored = ~std::uint64_t{0};

    /// Set in the user_data of multishot receives, and of operations (io_op); polls never
    /// have them (generations keep to 30 bits).
    static constexpr std::uint64_t recv_tag = std::uint64_t{1} << 63;
    static constexpr std::uint64_t op_tag = std::uint64_t{1} << 62;
    static constexpr std::uint32_t generation_mask = 0x3fffffffU;

    /// The provided-buffer ring of multishot receives: buffers the kernel fills and corio
    /// copies out of (into the stream's own buffer) as it reaps each completion, then gives
    /// back. Nothing the kernel writes into belongs to a stream, so a stream may go away
    /// with a receive still in flight.
    static constexpr unsigned recv_buffers = 256;
    static constexpr unsigned recv_buffer_size = 16 * 1024;
    static constexpr int recv_group = 0;

    struct fd_state {
        std::uint32_t generation = 0;
        std::uint32_t mask = 0;
        bool active = false;
        bool edge = false;
        std::uint32_t recv_generation = 0;
        recv_sink* sink = nullptr;
        /// A multishot receive is in the kernel (its last completion not reaped yet).
        bool recv_armed = false;
        /// Its cancellation was asked for by pause_recv.
        bool pausing = false;
        /// Operations (io_op) in flight on the fd.
        std::uint32_t ops = 0;
    };

    /// An operation in flight: the io_op it completes into. Freed at its completion, when
    /// its generation moves on.
    struct op_slot {
        io_op* op = nullptr;
        std::uint32_t generation = 1;
        io_op::kind kind = io_op::kind::send;
        /// Abandoned: its owner is gone, its completion is still to be reaped.
        bool orphan = false;
    };

    struct completed_op {
        std::uint64_t data;
        int result;
    };

    /// The op slot named by `data`, or nullptr if it has moved on.
    op_slot* slot_of(std::uint64_t data) noexcept {
        const auto index = static_cast<std::uint32_t>(data & 0xffffffffU);
        if (index >= m_ops.size()) {
            return nullptr;
        }
        op_slot& o = m_ops[index];
        return (o.op != nullptr || o.orphan) &&
                       (o.generation & generation_mask) == data_generation(data)
                   ? &o
                   : nullptr;
    }

    static std::uint64_t user_data(int fd, std::uint32_t generation) noexcept {
        return (std::uint64_t{generation & generation_mask} << 32) | static_cast<std::uint32_t>(fd);
    }

    static std::uint32_t data_generation(std::uint64_t data) noexcept {
        return static_cast<std::uint32_t>(data >> 32) & generation_mask;
    }

    void free_slot(op_slot& o) {
        o.op = nullptr;
        o.orphan = false;
        ++o.generation;
        m_free_ops.push_back(static_cast<std::uint32_t>(&o - m_ops.data()));
    }

    /// `op` is out of the kernel (or abandoned): no longer counted on its fd.
    void count_op_out(io_op& op) noexcept {
        if (fd_state* f = existing(op.fd); f != nullptr && f->ops > 0) {
            --f->ops;
        }
        op.token = 0;
        --m_live_ops;
    }

    /// The completion of the op in slot `o`; returns true if a callback ran.
    bool complete_op(op_slot& o, int result);

    fd_state* existing(int fd) noexcept {
        return fd >= 0 && static_cast<std::size_t>(fd) < m_fds.size()
                   ? &m_fds[static_cast<std::size_t>(fd)]
                   : nullptr;
    }

    /// A free submission entry for a cancellation (noexcept: submits once if the ring is
    /// full; nullptr if it still is, and the generation bump alone makes what was to be
    /// cancelled stale).
    io_uring_sqe* sqe_for_cancel() noexcept {
        io_uring_sqe* e = io_uring_get_sqe(&m_ring);
        if (e == nullptr) {
            io_uring_submit(&m_ring);
            e = io_uring_get_sqe(&m_ring);
        }
        return e;
    }

    void submit_cancel(std::uint64_t target, bool now) noexcept {
        if (io_uring_sqe* e = sqe_for_cancel()) {
            io_uring_prep_cancel64(e, target, 0);
            io_uring_sqe_set_data64(e, ignored);
        }
        if (now) {
            io_uring_submit_and_get_events(&m_ring);
        }
    }

    void setup_recv_buffers() noexcept;

    void give_back(std::uint16_t id, int offset) noexcept {
        io_uring_buf_ring_add(m_buf_ring, m_buffers.get() + std::size_t{id} * recv_buffer_size,
                              recv_buffer_size, id, io_uring_buf_ring_mask(recv_buffers), offset);
    }

    void arm_recv(int fd, const fd_state& s);

    void handle_recv(const io_uring_cqe& cqe, std::uint64_t data);

    /// (Re)register `fd`'s poll: the old one is removed and its completions become stale.
    void watch(int fd, bool edge, std::uint32_t mask);

    static std::uint32_t level_mask(bool readable, bool writable) noexcept {
        return (readable ? POLLIN : 0U) | (writable ? POLLOUT : 0U);
    }

    fd_state& slot(int fd) {
        if (fd < 0) {
            throw std::invalid_argument("io_uring reactor: invalid fd " + std::to_string(fd));
        }
        if (static_cast<std::size_t>(fd) >= m_fds.size()) {
            m_fds.resize(static_cast<std::size_t>(fd) + 1);
        }
        return m_fds[static_cast<std::size_t>(fd)];
    }

    /// A free submission entry, submitting what is queued if the ring is full.
    io_uring_sqe* sqe() {
        io_uring_sqe* e = io_uring_get_sqe(&m_ring);
        while (e == nullptr) {
            const int rc = io_uring_submit(&m_ring);
            if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR) {
                throw std::system_error(-rc, std::generic_category(), "io_uring_submit");
            }
            e = io_uring_get_sqe(&m_ring);
        }
        return e;
    }

    void arm(int fd, const fd_state& s);

    void cancel_poll(int fd, const fd_state& s) noexcept;

    /// Handle every completion in the queue; returns how many reached a sink or an op.
    /// reap, handle, handle_recv and complete_op are the path of every completion: they are
    /// defined inline in reactor_uring.cpp, for wait() (and only that file) to inline them.
    std::size_t reap(std::vector<reactor_event>& out);

    void handle(const io_uring_cqe& cqe, std::vector<reactor_event>& out);

    io_uring m_ring{};
    std::vector<fd_state> m_fds;
    io_uring_buf_ring* m_buf_ring = nullptr;
    std::size_t m_buf_ring_bytes = 0;
    std::unique_ptr<char[]> m_buffers;
    mutable bool m_recv_setup_tried = false;
    std::vector<op_slot> m_ops;
    std::vector<std::uint32_t> m_free_ops;
    std::vector<completed_op> m_completed;
    std::vector<completed_op> m_completing;
    std::size_t m_delivered = 0;
    std::size_t m_live_ops = 0;
    uring_features m_features;
    unsigned m_setup_flags = 0;
    bool m_registered_ring = false;
    bool m_ops_supported = false;
    /// IORING_REGISTER_SYNC_CANCEL (6.0).
    bool m_sync_cancel = kernel_at_least(6, 0);
};

} // namespace corio::detail
