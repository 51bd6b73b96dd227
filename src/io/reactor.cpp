// Choosing a reactor: the backend asked for, what the environment says (CORIO_BACKEND,
// CORIO_URING_DISABLE), and the fallback to epoll when the kernel refuses io_uring.
//
// io_uring is refused in more places than it is missing: io_uring_setup fails with ENOSYS
// on kernels before 5.1 (or built without it), EPERM under a seccomp filter (containers)
// or kernel.io_uring_disabled=2, and a build without liburing has no ring at all. All of
// these surface as std::system_error from make_uring_reactor; `automatic` then runs on
// epoll and keeps the reason, an explicit `io_uring` request fails with it.

#include "reactor.hpp"

#include "corio/errors.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace corio::detail {
namespace {

corio::backend backend_from_environment(corio::backend requested) {
    if (requested != corio::backend::automatic) {
        return requested;
    }
    const char* env = std::getenv("CORIO_BACKEND");
    if (env == nullptr || *env == '\0') {
        return requested;
    }
    const std::string_view v(env);
    if (v == "epoll") {
        return corio::backend::epoll;
    }
    if (v == "io_uring") {
        return corio::backend::io_uring;
    }
    if (v == "automatic") {
        return corio::backend::automatic;
    }
    throw std::invalid_argument("CORIO_BACKEND=" + std::string(v) +
                                ": expected epoll, io_uring or automatic");
}

} // namespace

uring_features uring_features::from_environment() {
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

reactor_choice make_reactor(corio::backend requested, bool thread_bound) {
    const corio::backend wanted = backend_from_environment(requested);
    if (wanted == corio::backend::epoll) {
        return {make_epoll_reactor(), {}};
    }
#ifdef CORIO_HAS_URING
    // Read only when io_uring is tried: an epoll loop ignores the variable.
    const uring_features features = uring_features::from_environment();
#else
    const uring_features features{};
#endif
    try {
        return {make_uring_reactor(thread_bound, features), {}};
    } catch (const std::system_error& e) {
        // Refused (io_uring_disabled, seccomp, ENOSYS, EPERM, no liburing at build time).
        if (wanted == corio::backend::io_uring) {
            throw invalid_state_error(
                std::string("backend::io_uring was requested, but io_uring is not available: ") +
                e.what());
        }
        return {make_epoll_reactor(), e.what()};
    }
}

} // namespace corio::detail
