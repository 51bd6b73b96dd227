#include "corio/detail/io.hpp"

#include <system_error>

#include <unistd.h>

namespace corio::detail {

void throw_errno(int err, const std::string& what) {
    throw std::system_error(err, std::generic_category(), what);
}

void close_fd(int fd, event_loop* loop) noexcept {
    if (fd < 0) {
        return;
    }
    if (loop_alive(loop)) {
        loop->forget_fd(fd);
    }
    ::close(fd);
}

void unique_fd::reset(int fd) noexcept {
    close_fd(std::exchange(m_fd, fd));
}

} // namespace corio::detail
