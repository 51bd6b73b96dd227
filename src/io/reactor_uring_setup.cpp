// The io_uring reactor's setup: the ring, the features the kernel has, and the ring of
// provided buffers for receives (the class and the kernel facts it relies on:
// reactor_uring.hpp). None of this is on the path of an I/O operation.
//
// - Setup tries the most capable ring first and drops what the kernel refuses (EINVAL):
//   DEFER_TASKRUN (6.1, needs SINGLE_ISSUER, replaces COOP_TASKRUN), then SINGLE_ISSUER
//   (6.0), then COOP_TASKRUN (5.19), then none. The flags that tie the ring to one thread
//   are asked for only by a loop that stays on its thread (make_reactor's `thread_bound`).
//   A failing io_uring_setup (ENOSYS, EPERM) throws, and make_reactor falls back to epoll.
// - Multishot receive, provided-buffer rings (IORING_REGISTER_PBUF_RING) and the
//   synchronous cancellation operations need (IORING_REGISTER_SYNC_CANCEL) arrived in
//   Linux 6.0; the kernel's version decides, and a failing registration turns receives off.
// - The buffer ring is set up by the first stream that asks for a receive: most loops never
//   receive through it, and making a loop stays cheap.

#include "reactor.hpp"

#ifdef CORIO_HAS_URING

#include "reactor_uring.hpp"

#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>

namespace corio::detail {

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

uring_reactor::uring_reactor(unsigned entries, bool thread_bound, uring_features features)
    : m_features(features) {
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

uring_reactor::~uring_reactor() {
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

std::string uring_reactor::features() const {
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

void uring_reactor::setup_recv_buffers() noexcept {
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

std::unique_ptr<reactor> make_uring_reactor(bool thread_bound, uring_features features) {
    return std::make_unique<uring_reactor>(256, thread_bound, features);
}

} // namespace corio::detail

#else

#include <cerrno>
#include <system_error>

namespace corio::detail {
std::unique_ptr<reactor> make_uring_reactor(bool /*thread_bound*/, uring_features /*features*/) {
    throw std::system_error(ENOSYS, std::generic_category(),
                            "io_uring_setup: corio was built without liburing");
}
} // namespace corio::detail

#endif
