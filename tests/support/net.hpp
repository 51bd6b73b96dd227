#pragma once
// Helpers shared by the network and HTTP tests: counting open fds, finding programs, a
// temporary directory for Unix sockets, connected stream pairs of every kind, raw listening
// sockets, and the rlimit and payload helpers the load and interop tests use.

#include <corio/corio.hpp>
#include <corio/detail/io.hpp>

#include "loop.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace corio_net_test {

using corio_test::error_of;
using corio_test::holds;
using corio_test::virtual_time;

// --- fds ---------------------------------------------------------------------------------

/// How many fds this process has open (the entries of /proc/self/fd, less the one used
/// to list them).
inline int count_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        throw std::system_error(errno, std::generic_category(), "opendir /proc/self/fd");
    }
    int n = 0;
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] != '.') {
            ++n;
        }
    }
    ::closedir(dir);
    return n - 1;
}

/// The highest fd number open in this process (-1 if none).
inline int highest_fd() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        throw std::system_error(errno, std::generic_category(), "opendir /proc/self/fd");
    }
    const int own = ::dirfd(dir);
    int highest = -1;
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        const int fd = std::atoi(e->d_name);
        if (fd != own && fd > highest) {
            highest = fd;
        }
    }
    ::closedir(dir);
    return highest;
}

/// The RLIMIT_NOFILE soft limit under which exactly `room` more fds can be opened: fd
/// numbers are allocated lowest first and must stay below the limit, while fds already
/// open above it stay usable.
inline int nofile_limit_leaving(int room) {
    std::vector<bool> used;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        throw std::system_error(errno, std::generic_category(), "opendir /proc/self/fd");
    }
    const int own = ::dirfd(dir);
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        const int fd = std::atoi(e->d_name);
        if (fd == own) {
            continue;
        }
        if (static_cast<std::size_t>(fd) >= used.size()) {
            used.resize(static_cast<std::size_t>(fd) + 1, false);
        }
        used[static_cast<std::size_t>(fd)] = true;
    }
    ::closedir(dir);
    int free_numbers = 0;
    int fd = 0;
    for (; free_numbers < room; ++fd) {
        if (static_cast<std::size_t>(fd) >= used.size() || !used[static_cast<std::size_t>(fd)]) {
            ++free_numbers;
        }
    }
    return fd;
}

/// A fixture base that fails the test if it ends with more (or fewer) fds open than it
/// started with.
class fd_leak_check : public ::testing::Test {
protected:
    void SetUp() override { m_baseline = count_fds(); }
    void TearDown() override {
        EXPECT_EQ(count_fds(), m_baseline) << "fds leaked (or closed twice) by this test";
    }

private:
    int m_baseline = 0;
};

/// Throw std::system_error for errno if `result` is negative.
inline int check_sys(int result, const char* what) {
    if (result < 0) {
        throw std::system_error(errno, std::generic_category(), what);
    }
    return result;
}

/// An fd closed on destruction (through corio::detail::close_fd, so a running loop forgets
/// it first), for sockets the tests make by hand.
using raw_fd = corio::detail::unique_fd;

// --- programs ----------------------------------------------------------------------------

/// `name` at the first of `candidates`, or on the PATH; "" if none.
inline std::string find_program(const std::string& name,
                                const std::vector<std::string>& candidates) {
    for (const std::string& c : candidates) {
        if (::access(c.c_str(), X_OK) == 0) {
            return c;
        }
    }
    const char* path = std::getenv("PATH");
    const std::string dirs = path != nullptr ? path : "";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const std::size_t end = std::min(dirs.find(':', start), dirs.size());
        const std::string candidate = dirs.substr(start, end - start) + "/" + name;
        if (end > start && ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        start = end + 1;
    }
    return {};
}

// --- temporary directory -----------------------------------------------------------------

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
/// Short enough for sockaddr_un paths.
class temp_dir {
public:
    temp_dir() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl =
            std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/corio-net-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
        }
        m_path = tmpl;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(m_path, ignored);
    }
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }
    /// `path()/name`.
    [[nodiscard]] std::string file(std::string_view name) const {
        return m_path + "/" + std::string(name);
    }

private:
    std::string m_path;
};

inline bool is_socket_file(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

inline bool path_exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

// --- addresses and raw sockets -----------------------------------------------------------

/// True if a TCP socket can be bound to ::1 (IPv6 loopback present).
inline bool ipv6_loopback_available() {
    const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

/// A listening TCP socket on `host` (numeric) and an ephemeral port, made by hand.
/// `backlog` as listen(2).
inline raw_fd raw_tcp_listener(const std::string& host, int backlog = 16) {
    const corio::socket_address where = corio::socket_address::from_ip(host, 0);
    raw_fd fd(check_sys(::socket(where.family(), SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    check_sys(::bind(fd.get(), where.data(), where.size()), "bind");
    check_sys(::listen(fd.get(), backlog), "listen");
    return fd;
}

/// A listening Unix socket at `path`, made by hand.
inline raw_fd raw_unix_listener(const std::string& path, int backlog = 16) {
    const corio::socket_address where = corio::socket_address::from_unix_path(path);
    raw_fd fd(check_sys(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    check_sys(::bind(fd.get(), where.data(), where.size()), "bind");
    check_sys(::listen(fd.get(), backlog), "listen");
    return fd;
}

/// A blocking connect to `to` (the kernel completes it through the listener's backlog,
/// no accept needed, as long as the backlog has room).
inline raw_fd raw_connect(const corio::socket_address& to) {
    raw_fd fd(check_sys(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    check_sys(::connect(fd.get(), to.data(), to.size()), "connect");
    return fd;
}

/// A listener on 127.0.0.1 that lets connects hang: backlog 0 and one connection parked
/// in it already (the kernel leaves further connects pending).
struct silent_listener {
    raw_fd listener = raw_tcp_listener("127.0.0.1", 0);
    corio::socket_address address = corio::socket_address::local_of(listener.get());
    raw_fd filler = raw_connect(address);
};

/// The listening socket's accept queue: {connections waiting, backlog}. TCP only (Linux
/// reports both in TCP_INFO for a listening socket).
inline std::pair<unsigned, unsigned> tcp_accept_queue(int listener) {
    tcp_info info{};
    socklen_t len = sizeof info;
    check_sys(::getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &len), "TCP_INFO");
    return {info.tcpi_unacked, info.tcpi_sacked};
}

/// The fd of this process's listening socket bound to `address`, or -1. (corio does not
/// expose a server's fds; the tests look at them through /proc/self/fd.)
inline int find_listening_fd(const corio::socket_address& address) {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return -1;
    }
    int found = -1;
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        const int fd = std::atoi(e->d_name);
        int listening = 0;
        socklen_t len = sizeof listening;
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) {
            continue;
        }
        if (corio::socket_address::local_of(fd) == address) {
            found = fd;
            break;
        }
    }
    ::closedir(dir);
    return found;
}

/// A port on `host` (127.0.0.1 unless given) that nothing listens on (bound, then released;
/// the kernel does not hand it out again at once).
inline std::uint16_t unused_port(const std::string& host = "127.0.0.1") {
    raw_fd fd = raw_tcp_listener(host);
    return corio::socket_address::local_of(fd.get()).port();
}

// --- stream pairs ------------------------------------------------------------------------

/// The kinds of stream every conformance test runs on (memory: a transport written in the
/// tests, memory_transport.hpp; tls: TLS 1.3 over TCP on 127.0.0.1, started on a tcp4 pair
/// by the suite, where corio's record layer takes over after the handshake; tls12: TLS 1.2,
/// whose records OpenSSL makes).
enum class stream_kind { tcp4, tcp6, unix_socket, pipes, memory, tls, tls12 };

inline const char* kind_name(stream_kind k) {
    switch (k) {
    case stream_kind::tcp4:
        return "tcp4";
    case stream_kind::tcp6:
        return "tcp6";
    case stream_kind::unix_socket:
        return "unix";
    case stream_kind::pipes:
        return "pipes";
    case stream_kind::memory:
        return "memory";
    case stream_kind::tls:
        return "tls";
    case stream_kind::tls12:
        return "tls12";
    }
    return "?";
}

inline bool is_tls_kind(stream_kind k) {
    return k == stream_kind::tls || k == stream_kind::tls12;
}
inline bool is_socket_kind(stream_kind k) {
    return k != stream_kind::pipes && k != stream_kind::memory;
}
inline bool is_tcp_kind(stream_kind k) {
    return k == stream_kind::tcp4 || k == stream_kind::tcp6 || is_tls_kind(k);
}

/// Two connected streams: `client` (the connecting side, or pipe end A) and `server`
/// (the accepted side, or pipe end B). Whatever one writes, the other reads.
struct stream_pair {
    corio::stream client;
    corio::stream server;
};

/// A connected pair of `kind`, made with plain system calls and adopted with
/// stream::from_socket / stream::from_pipes (so the suite tests the stream alone). Unix
/// sockets are made in `dir`. Call it inside a running loop. For `tls`, a tcp4 pair: the
/// caller starts TLS on it (also for `tls12`).
inline stream_pair make_stream_pair(stream_kind kind, const temp_dir& dir,
                                    std::size_t limit = corio::stream::default_limit) {
    if (kind == stream_kind::pipes) {
        // A duplex from two pipes: client reads p1 and writes p2, server reads p2, writes p1.
        int p1[2];
        int p2[2];
        check_sys(::pipe2(p1, O_CLOEXEC), "pipe2");
        if (::pipe2(p2, O_CLOEXEC) != 0) {
            const int err = errno;
            ::close(p1[0]);
            ::close(p1[1]);
            throw std::system_error(err, std::generic_category(), "pipe2");
        }
        stream_pair p;
        p.client = corio::stream::from_pipes(p1[0], p2[1], "pipe A", limit);
        p.server = corio::stream::from_pipes(p2[0], p1[1], "pipe B", limit);
        return p;
    }
    raw_fd listener;
    if (kind == stream_kind::unix_socket) {
        listener = raw_unix_listener(dir.file("pair.sock"), 1);
    } else {
        listener = raw_tcp_listener(kind == stream_kind::tcp6 ? "::1" : "127.0.0.1", 1);
    }
    const corio::socket_address where = corio::socket_address::local_of(listener.get());
    raw_fd client = raw_connect(where);
    raw_fd server(check_sys(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC), "accept"));
    if (kind == stream_kind::unix_socket) {
        ::unlink(dir.file("pair.sock").c_str());
    }
    stream_pair p;
    p.client = corio::stream::from_socket(client.release(), limit);
    p.server = corio::stream::from_socket(server.release(), limit);
    return p;
}

// --- peers in other processes ----------------------------------------------------------

/// A server's handler: echoes lines until end of stream, then closes (with close_notify
/// over TLS).
inline corio::task<> echo_lines_and_close(corio::stream s) {
    while (true) {
        std::string line = co_await s.read_line();
        if (line.empty()) {
            break;
        }
        s.write(line);
        co_await s.drain();
    }
    s.close();
    co_await s.wait_closed();
}

/// The Python interpreter: /usr/bin/python3 if there, else python3 on the PATH; "" if none.
inline std::string python3_path() {
    return find_program("python3", {"/usr/bin/python3"});
}

/// tests/net/py/<name>: the Python peers of the interop tests.
inline std::string py_script(const char* name) {
    return (std::filesystem::path(__FILE__).parent_path().parent_path() / "net" / "py" / name)
        .string();
}

/// The exit status of `p`, waiting at most `limit` (then a test failure, and it is killed).
inline corio::task<int> run_to_exit(corio::process& p, std::chrono::seconds limit) {
    std::optional<int> code = co_await corio::move_on_after(limit, p.wait());
    if (!code) {
        ADD_FAILURE() << "the peer process did not finish within " << limit.count() << " s";
        p.kill();
        co_return co_await p.wait();
    }
    co_return *code;
}

// --- running -----------------------------------------------------------------------------

/// What awaiting `f()` threw, including an exception thrown by the call itself (nullptr
/// if nothing was thrown).
template <class F>
corio::task<std::exception_ptr> error_of_call(F f) {
    std::exception_ptr error;
    try {
        co_await f();
    } catch (...) {
        error = std::current_exception();
    }
    co_return error;
}

/// The std::system_error in `e`, rethrown into `fn(const std::system_error&)`; a test
/// failure if `e` is empty or holds something else.
template <class F>
void with_system_error(const std::exception_ptr& e, F fn) {
    if (!e) {
        ADD_FAILURE() << "expected a std::system_error, nothing was thrown";
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error& err) {
        fn(err);
    } catch (const std::exception& other) {
        ADD_FAILURE() << "expected a std::system_error, got: " << other.what();
    } catch (const corio::cancelled_error&) {
        ADD_FAILURE() << "expected a std::system_error, got cancelled_error";
    } catch (...) {
        ADD_FAILURE() << "expected a std::system_error, got an unknown exception";
    }
}

/// A short description of what `e` holds, for failure messages.
inline std::string describe(const std::exception_ptr& e) {
    if (!e) {
        return "nothing";
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (const corio::cancelled_error&) {
        return "cancelled_error";
    } catch (...) {
        return "unknown exception";
    }
}

// --- rlimits -----------------------------------------------------------------------------

/// Sets RLIMIT_NOFILE's soft limit for its lifetime, then restores the old one.
class nofile_limit {
public:
    explicit nofile_limit(rlim_t soft) {
        check_sys(::getrlimit(RLIMIT_NOFILE, &m_saved), "getrlimit");
        rlimit l = m_saved;
        l.rlim_cur = soft;
        check_sys(::setrlimit(RLIMIT_NOFILE, &l), "setrlimit");
    }
    nofile_limit(const nofile_limit&) = delete;
    nofile_limit& operator=(const nofile_limit&) = delete;
    ~nofile_limit() { ::setrlimit(RLIMIT_NOFILE, &m_saved); }

private:
    rlimit m_saved{};
};

inline rlim_t nofile_hard_limit() {
    rlimit l{};
    check_sys(::getrlimit(RLIMIT_NOFILE, &l), "getrlimit");
    return l.rlim_max;
}

// --- payloads ----------------------------------------------------------------------------

/// Deterministic pseudo-random bytes (xorshift), so a receiver can check every byte.
inline std::string pattern(std::size_t n, std::uint64_t seed = 1) {
    std::string out(n, '\0');
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (std::size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = static_cast<char>(x & 0xFF);
    }
    return out;
}

/// CRC-32 (IEEE 802.3, as zlib.crc32).
inline std::uint32_t crc32(std::string_view data) {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) {
                c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
            }
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFU;
    for (const char ch : data) {
        c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (c >> 8);
    }
    return c ^ 0xFFFFFFFFU;
}

/// `v` as 4 big-endian bytes, and back.
inline std::string be32(std::uint32_t v) {
    std::string s(4, '\0');
    s[0] = static_cast<char>((v >> 24) & 0xFFU);
    s[1] = static_cast<char>((v >> 16) & 0xFFU);
    s[2] = static_cast<char>((v >> 8) & 0xFFU);
    s[3] = static_cast<char>(v & 0xFFU);
    return s;
}
inline std::uint32_t from_be32(std::string_view s) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4 && i < s.size(); ++i) {
        v = (v << 8) | static_cast<unsigned char>(s[i]);
    }
    return v;
}

} // namespace corio_net_test
