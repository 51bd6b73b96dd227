// The io_uring reactor.
//
// Readiness through io_uring: an edge-triggered fd gets one multishot IORING_OP_POLL_ADD
// for its life, which posts a completion each time the file's wait queue is woken with
// POLLIN, POLLOUT or POLLRDHUP (the same "report each change once" contract as EPOLLET);
// a level-triggered fd (add_reader/add_writer) gets a one-shot poll re-armed after each
// completion, which completes again at once while the fd stays ready (epoll's level mode).
//
// Everything queued during an iteration (polls, removals) goes to the kernel in the one
// io_uring_enter that also waits for completions: one system call per loop iteration, and
// completions are reaped in a batch.
//
// Kernel facts relied on (io_uring_enter(2), io_uring_prep_poll_multishot(3)):
// - A multishot poll stays armed while its completions carry IORING_CQE_F_MORE; when one
//   does not (overflow, or the kernel dropped it), the poll is armed again.
// - A poll's user_data is the fd and a generation; removing an fd bumps the generation,
//   so completions already on their way for the old registration are recognised as
//   stale and dropped, even if the fd number has been reused meanwhile.
// - IORING_SETUP_COOP_TASKRUN (5.19) and SINGLE_ISSUER (6.0) are tried first and dropped
//   when the kernel refuses them (EINVAL).

#include "reactor.hpp"

#ifdef CORIO_HAS_URING

#include "corio/errors.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

namespace corio::detail {
namespace {

/// user_data of submissions whose completion nobody needs (poll removals).
constexpr std::uint64_t ignored = ~std::uint64_t{0};

/// Set in the user_data of multishot receives, and of operations (io_op); polls never
/// have them (generations keep to 30 bits).
constexpr std::uint64_t recv_tag = std::uint64_t{1} << 63;
constexpr std::uint64_t op_tag = std::uint64_t{1} << 62;
constexpr std::uint32_t generation_mask = 0x3fffffffU;

std::uint64_t user_data(int fd, std::uint32_t generation) noexcept {
    return (std::uint64_t{generation & generation_mask} << 32) | static_cast<std::uint32_t>(fd);
}

std::uint32_t data_generation(std::uint64_t data) noexcept {
    return static_cast<std::uint32_t>(data >> 32) & generation_mask;
}

/// The provided-buffer ring of multishot receives: buffers the kernel fills and corio
/// copies out of (into the stream's own buffer) as it reaps each completion, then gives
/// back. Nothing the kernel writes into belongs to a stream, so a stream may go away
/// with a receive still in flight.
constexpr unsigned recv_buffers = 256;
constexpr unsigned recv_buffer_size = 16 * 1024;
constexpr int recv_group = 0;

/// True if the running kernel is at least `major.minor`.
bool kernel_at_least(int major, int minor) {
    utsname u{};
    if (::uname(&u) != 0) {
        return false;
    }
    int have_major = 0;
    int have_minor = 0;
    if (std::sscanf(u.release, "%d.%d", &have_major, &have_minor) != 2) {
        return false;
    }
    return have_major > major || (have_major == major && have_minor >= minor);
}

/// The optional io_uring features, each used only where the kernel has it; each can be
/// turned off with CORIO_URING_DISABLE (a comma-separated list of these names), to measure
/// what it brings or to run the fallback path.
struct uring_features {
    bool recv = true;            ///< multishot receive into a provided-buffer ring (6.0)
    bool ops = true;             ///< completion-based send/connect/accept (sync cancel: 6.0)
    bool registered_ring = true; ///< IORING_REGISTER_RING_FDS (5.18)
    bool coop_taskrun = true;    ///< IORING_SETUP_COOP_TASKRUN (5.19)
    bool single_issuer = true;   ///< IORING_SETUP_SINGLE_ISSUER (6.0)
    bool defer_taskrun = true;   ///< IORING_SETUP_DEFER_TASKRUN (6.1)

    static uring_features from_environment() {
        uring_features f;
        const char* env = std::getenv("CORIO_URING_DISABLE");
        std::string_view rest = env == nullptr ? std::string_view() : std::string_view(env);
        while (!rest.empty()) {
            const std::size_t comma = rest.find(',');
            const std::string_view name = rest.substr(0, comma);
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
            bool* flag = name == "recv"              ? &f.recv
                         : name == "ops"             ? &f.ops
                         : name == "registered_ring" ? &f.registered_ring
                         : name == "coop_taskrun"    ? &f.coop_taskrun
                         : name == "single_issuer"   ? &f.single_issuer
                         : name == "defer_taskrun"   ? &f.defer_taskrun
                                                     : nullptr;
            if (flag == nullptr && !name.empty()) {
                throw std::invalid_argument(
                    "CORIO_URING_DISABLE: unknown feature '" + std::string(name) +
                    "' (expected recv, ops, registered_ring, coop_taskrun, single_issuer, "
                    "defer_taskrun)");
            }
            if (flag != nullptr) {
                *flag = false;
            }
        }
        return f;
    }
};

class uring_reactor final : public reactor {
public:
    uring_reactor(unsigned entries, bool thread_bound)
        : m_features(uring_features::from_environment()) {
        // What ties the ring to the thread that made it, only for a loop that stays there.
        if (!thread_bound) {
            m_features.single_issuer = false;
            m_features.defer_taskrun = false;
            m_features.registered_ring = false;
        }
        int rc = -EINVAL;
        // Most capable first; each refusal (older kernel) drops a flag. DEFER_TASKRUN
        // (6.1) needs SINGLE_ISSUER and replaces COOP_TASKRUN.
        const unsigned coop = m_features.coop_taskrun ? IORING_SETUP_COOP_TASKRUN : 0U;
        const unsigned single = m_features.single_issuer ? IORING_SETUP_SINGLE_ISSUER : 0U;
        const unsigned defer = m_features.defer_taskrun && single != 0
                                   ? IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER
                                   : coop | single;
        for (const unsigned flags : {defer, coop | single, coop, 0U}) {
            io_uring_params params{};
            params.flags = flags;
            rc = io_uring_queue_init_params(entries, &m_ring, &params);
            if (rc != -EINVAL) {
                m_setup_flags = flags;
                break;
            }
        }
        if (rc < 0) {
            throw std::system_error(-rc, std::generic_category(), "io_uring_setup");
        }
        // The ring's own fd registered: io_uring_enter skips the fd table lookup.
        m_registered_ring = m_features.registered_ring && io_uring_register_ring_fd(&m_ring) == 1;
        m_ops_supported = m_features.ops && m_sync_cancel;
    }
    ~uring_reactor() override {
        // Connections accepted for abandoned operations, still in the completion queue.
        io_uring_submit_and_get_events(&m_ring);
        io_uring_cqe* cqe = nullptr;
        unsigned head = 0;
        io_uring_for_each_cqe(&m_ring, head, cqe) {
            const std::uint64_t data = io_uring_cqe_get_data64(cqe);
            if (data != ignored && (data & op_tag) != 0 && (data & recv_tag) == 0) {
                if (op_slot* o = slot_of(data);
                    o != nullptr && o->orphan && o->kind == io_op::kind::accept && cqe->res >= 0) {
                    ::close(cqe->res);
                }
            }
        }
        io_uring_queue_exit(&m_ring);
        if (m_buf_ring != nullptr) {
            ::munmap(m_buf_ring, m_buf_ring_bytes);
        }
    }
    uring_reactor(const uring_reactor&) = delete;
    uring_reactor& operator=(const uring_reactor&) = delete;

    [[nodiscard]] corio::backend kind() const noexcept override { return corio::backend::io_uring; }

    [[nodiscard]] std::string features() const override {
        std::string out;
        const auto add = [&out](bool on, const char* name) {
            if (on) {
                out += out.empty() ? "" : ", ";
                out += name;
            }
        };
        add(m_ops_supported, "send/connect/accept operations");
        add(m_features.recv && kernel_at_least(6, 0), "multishot receive");
        add(m_registered_ring, "registered ring fd");
        add((m_setup_flags & IORING_SETUP_COOP_TASKRUN) != 0, "COOP_TASKRUN");
        add((m_setup_flags & IORING_SETUP_SINGLE_ISSUER) != 0, "SINGLE_ISSUER");
        add((m_setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0, "DEFER_TASKRUN");
        return out;
    }

    void add(int fd, bool readable, bool writable, bool edge) override {
        watch(fd, edge, edge ? (POLLIN | POLLOUT | POLLRDHUP) : level_mask(readable, writable));
    }

    void modify(int fd, bool readable, bool writable) override {
        watch(fd, false, level_mask(readable, writable));
    }

    void remove(int fd) noexcept override {
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

    std::size_t wait(std::int64_t timeout_ns, std::vector<reactor_event>& out) override {
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

    /// The buffer ring is set up by the first stream that asks (most loops never receive
    /// through it, and making a loop stays cheap).
    [[nodiscard]] bool supports_recv() const noexcept override {
        if (!m_recv_setup_tried) {
            m_recv_setup_tried = true;
            const_cast<uring_reactor*>(this)->setup_recv_buffers();
        }
        return m_buf_ring != nullptr;
    }

    void start_recv(int fd, recv_sink& sink) override {
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

    void pause_recv(int fd) noexcept override {
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

    void stop_recv(int fd) noexcept override {
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

    /// Operations need IORING_REGISTER_SYNC_CANCEL (Linux 6.0) for abandon().
    [[nodiscard]] bool supports_ops() const noexcept override { return m_ops_supported; }

    void submit(io_op& op) override {
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

    [[nodiscard]] std::size_t ops_in_flight() const noexcept override { return m_live_ops; }

    void cancel(io_op& op) noexcept override {
        if (op.token != 0) {
            submit_cancel(op.token, false);
        }
    }

    void abandon(io_op& op) noexcept override {
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

    void flush() override {
        if (io_uring_sq_ready(&m_ring) > 0) {
            const int rc = io_uring_submit(&m_ring);
            if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR) {
                throw std::system_error(-rc, std::generic_category(), "io_uring_submit");
            }
        }
    }

    void cancel_all() noexcept override {
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

    void forget(int fd, bool registered) noexcept override {
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

private:
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
    bool complete_op(op_slot& o, int result) {
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

    void setup_recv_buffers() noexcept {
        // Multishot receive with provided buffers arrived in Linux 6.0.
        if (!m_features.recv || !kernel_at_least(6, 0)) {
            return;
        }
        m_buf_ring_bytes = recv_buffers * sizeof(io_uring_buf);
        void* ring = ::mmap(nullptr, m_buf_ring_bytes, PROT_READ | PROT_WRITE,
                            MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
        if (ring == MAP_FAILED) {
            return;
        }
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring);
        reg.ring_entries = recv_buffers;
        reg.bgid = recv_group;
        if (io_uring_register_buf_ring(&m_ring, &reg, 0) != 0) {
            ::munmap(ring, m_buf_ring_bytes);
            return; // older kernel: streams read through readiness
        }
        m_buf_ring = static_cast<io_uring_buf_ring*>(ring);
        m_buffers =
            std::make_unique_for_overwrite<char[]>(std::size_t{recv_buffers} * recv_buffer_size);
        io_uring_buf_ring_init(m_buf_ring);
        for (unsigned i = 0; i < recv_buffers; ++i) {
            give_back(static_cast<std::uint16_t>(i), static_cast<int>(i));
        }
        io_uring_buf_ring_advance(m_buf_ring, static_cast<int>(recv_buffers));
    }

    void give_back(std::uint16_t id, int offset) noexcept {
        io_uring_buf_ring_add(m_buf_ring, m_buffers.get() + std::size_t{id} * recv_buffer_size,
                              recv_buffer_size, id, io_uring_buf_ring_mask(recv_buffers), offset);
    }

    void arm_recv(int fd, const fd_state& s) {
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

    void handle_recv(const io_uring_cqe& cqe, std::uint64_t data) {
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

    /// (Re)register `fd`'s poll: the old one is removed and its completions become stale.
    void watch(int fd, bool edge, std::uint32_t mask) {
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

    void arm(int fd, const fd_state& s) {
        io_uring_sqe* e = sqe();
        if (s.edge) {
            io_uring_prep_poll_multishot(e, fd, s.mask);
        } else {
            io_uring_prep_poll_add(e, fd, s.mask);
        }
        io_uring_sqe_set_data64(e, user_data(fd, s.generation));
    }

    void cancel_poll(int fd, const fd_state& s) noexcept {
        if (io_uring_sqe* e = sqe_for_cancel()) {
            io_uring_prep_poll_remove(e, user_data(fd, s.generation));
            io_uring_sqe_set_data64(e, ignored);
        }
    }

    /// Handle every completion in the queue; returns how many reached a sink or an op.
    std::size_t reap(std::vector<reactor_event>& out) {
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

    void handle(const io_uring_cqe& cqe, std::vector<reactor_event>& out) {
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

} // namespace

std::unique_ptr<reactor> make_uring_reactor(bool thread_bound) {
    return std::make_unique<uring_reactor>(256, thread_bound);
}

} // namespace corio::detail

#else

#include <cerrno>
#include <system_error>

namespace corio::detail {
std::unique_ptr<reactor> make_uring_reactor(bool /*thread_bound*/) {
    throw std::system_error(ENOSYS, std::generic_category(),
                            "io_uring_setup: corio was built without liburing");
}
} // namespace corio::detail

#endif
