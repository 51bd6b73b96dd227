#include "corio/net/dns.hpp"

#include "corio/thread_pool.hpp"

#include <cerrno>
#include <system_error>

#include <netdb.h>

namespace corio {

namespace {

class gai_error_category final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "getaddrinfo"; }
    [[nodiscard]] std::string message(int code) const override { return ::gai_strerror(code); }
};

/// What a resolution produced: the addresses, or an EAI_* code (and errno for EAI_SYSTEM).
struct resolution {
    std::vector<address_info> results;
    int gai_code = 0;
    int sys_errno = 0;
};

resolution resolve(const std::string& host, std::uint16_t port, const address_hints& hints) {
    addrinfo h{};
    h.ai_family = hints.family;
    h.ai_socktype = hints.socktype;
    h.ai_protocol = hints.protocol;
    h.ai_flags = hints.flags | AI_NUMERICSERV;
    addrinfo* list = nullptr;
    const std::string service = std::to_string(port);
    resolution r;
    errno = 0;
    r.gai_code = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &h, &list);
    if (r.gai_code != 0) {
        r.sys_errno = errno;
        return r;
    }
    for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
        address_info info;
        info.family = a->ai_family;
        info.socktype = a->ai_socktype;
        info.protocol = a->ai_protocol;
        info.address = socket_address(a->ai_addr, a->ai_addrlen);
        if (a->ai_canonname != nullptr) {
            info.canonical_name = a->ai_canonname;
        }
        r.results.push_back(std::move(info));
    }
    ::freeaddrinfo(list);
    return r;
}

/// True if `host` is a numeric address (or empty), which getaddrinfo resolves without I/O.
bool is_numeric(const std::string& host) {
    if (host.empty()) {
        return true;
    }
    addrinfo h{};
    h.ai_flags = AI_NUMERICHOST;
    addrinfo* list = nullptr;
    if (::getaddrinfo(host.c_str(), nullptr, &h, &list) != 0) {
        return false;
    }
    ::freeaddrinfo(list);
    return true;
}

} // namespace

const std::error_category& gai_category() noexcept {
    static const gai_error_category category;
    return category;
}

task<std::vector<address_info>> getaddrinfo(std::string host, std::uint16_t port,
                                            address_hints hints) {
    resolution r;
    if (is_numeric(host)) {
        r = resolve(host, port, hints);
    } else {
        r = co_await to_thread(&resolve, host, port, hints);
    }
    if (r.gai_code == EAI_SYSTEM) {
        throw std::system_error(r.sys_errno, std::generic_category(),
                                "getaddrinfo " + host + ":" + std::to_string(port));
    }
    if (r.gai_code != 0) {
        throw std::system_error(r.gai_code, gai_category(),
                                "getaddrinfo " + host + ":" + std::to_string(port));
    }
    co_return std::move(r.results);
}

} // namespace corio
