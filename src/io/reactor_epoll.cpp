// The epoll reactor: readiness only (supports_recv() and supports_ops() stay false, so
// streams read and write with system calls after an edge).
//
// Kernel facts relied on (epoll(7)):
// - An fd added with EPOLLET is reported once per change of state: new data arriving, or
//   the send buffer draining. If the fd is already ready when it is added, the first
//   epoll_wait reports it. So corio's I/O awaitables always try the syscall first and wait
//   only after EAGAIN; nothing is lost, because data arriving after the EAGAIN is a new
//   edge. An edge-triggered fd is added once, for both directions, and never modified.
// - Without EPOLLET an fd is reported on every epoll_wait while it is ready: that is
//   asyncio's add_reader/add_writer contract, kept for those callbacks.
// - Closing an fd removes it from the epoll set only when no duplicate of it stays open,
//   so the I/O driver deletes it explicitly (event_loop::forget_fd, io_driver::forget)
//   before a close.
// - epoll_pwait2 (Linux 5.11, glibc 2.35) takes a timespec; older kernels return ENOSYS and
//   epoll_wait is used, with the timeout rounded up to whole milliseconds so a timer never
//   wakes the loop early into a busy spin.

#include "reactor.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace corio::detail {
namespace {

std::uint32_t level_mask(bool readable, bool writable) {
    return (readable ? EPOLLIN : 0U) | (writable ? EPOLLOUT : 0U);
}

class epoll_reactor final : public reactor {
public:
    epoll_reactor() : m_epfd(::epoll_create1(EPOLL_CLOEXEC)) {
        if (m_epfd < 0) {
            throw std::system_error(errno, std::generic_category(), "epoll_create1");
        }
    }
    ~epoll_reactor() override { ::close(m_epfd); }
    epoll_reactor(const epoll_reactor&) = delete;
    epoll_reactor& operator=(const epoll_reactor&) = delete;

    [[nodiscard]] corio::backend kind() const noexcept override { return corio::backend::epoll; }

    void add(int fd, bool readable, bool writable, bool edge) override {
        epoll_event ev{};
        ev.events =
            edge ? (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) : level_mask(readable, writable);
        ev.data.fd = fd;
        if (::epoll_ctl(m_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            throw std::system_error(errno, std::generic_category(),
                                    "epoll_ctl(ADD) fd " + std::to_string(fd));
        }
    }

    void modify(int fd, bool readable, bool writable) override {
        epoll_event ev{};
        ev.events = level_mask(readable, writable);
        ev.data.fd = fd;
        // ENOENT: the fd was closed (which dropped it from the set) and its number reused
        // before the loop heard of it; register the new file.
        if (::epoll_ctl(m_epfd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
            (errno != ENOENT || ::epoll_ctl(m_epfd, EPOLL_CTL_ADD, fd, &ev) < 0)) {
            throw std::system_error(errno, std::generic_category(),
                                    "epoll_ctl(MOD) fd " + std::to_string(fd));
        }
    }

    void remove(int fd) noexcept override {
        epoll_event ev{};
        ::epoll_ctl(m_epfd, EPOLL_CTL_DEL, fd, &ev);
    }

    std::size_t wait(std::int64_t timeout_ns, std::vector<reactor_event>& out) override {
        std::array<epoll_event, 256> events{};
        int n = -1;
        if (m_have_pwait2) {
            timespec ts{};
            timespec* tsp = nullptr;
            if (timeout_ns >= 0) {
                ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
                ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
                tsp = &ts;
            }
            n = ::epoll_pwait2(m_epfd, events.data(), static_cast<int>(events.size()), tsp,
                               nullptr);
            if (n < 0 && errno == ENOSYS) {
                m_have_pwait2 = false;
            }
        }
        if (!m_have_pwait2) {
            int ms = -1;
            if (timeout_ns >= 0) {
                const std::int64_t rounded = (timeout_ns + 999'999) / 1'000'000;
                ms = rounded > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(rounded);
            }
            n = ::epoll_wait(m_epfd, events.data(), static_cast<int>(events.size()), ms);
        }
        if (n < 0) {
            if (errno == EINTR) {
                return 0;
            }
            throw std::system_error(errno, std::generic_category(), "epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            const std::uint32_t e = events[static_cast<std::size_t>(i)].events;
            const bool failed = (e & (EPOLLERR | EPOLLHUP)) != 0;
            out.push_back({events[static_cast<std::size_t>(i)].data.fd,
                           failed || (e & (EPOLLIN | EPOLLRDHUP)) != 0,
                           failed || (e & EPOLLOUT) != 0, failed || (e & EPOLLRDHUP) != 0});
        }
        return 0;
    }

private:
    int m_epfd;
    bool m_have_pwait2 = true;
};

} // namespace

std::unique_ptr<reactor> make_epoll_reactor() {
    return std::make_unique<epoll_reactor>();
}

} // namespace corio::detail
