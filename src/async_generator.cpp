// The loop's registry of open async generators, the finalizer for a generator dropped
// while suspended, and shutdown_asyncgens().

#include "corio/async_generator.hpp"

#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"

#include <vector>

namespace corio {
namespace detail {

void register_asyncgen(asyncgen_base& g) noexcept {
    event_loop* loop = running_loop();
    if (loop == nullptr || g.loop != nullptr) {
        return;
    }
    g.loop = loop;
    loop->asyncgen_registry().push_back(g);
}

void unregister_asyncgen(asyncgen_base& g) noexcept {
    g.unlink();
    g.loop = nullptr;
}

namespace {
task<> finalize(asyncgen_base* g) {
    std::exception_ptr error;
    try {
        co_await aclose_asyncgen(g);
    } catch (...) {
        error = std::current_exception();
    }
    g->handle.destroy();
    if (error && !is_cancellation(error)) {
        get_running_loop().call_exception_handler(
            {"error while finalizing an async generator dropped before it finished", error, {}});
    }
}
} // namespace

void finalize_asyncgen(asyncgen_base& g) {
    spawn_on(*g.loop, finalize(&g), "async generator finalizer");
}

} // namespace detail

task<> event_loop::shutdown_asyncgens() {
    std::vector<join_handle<>> closing;
    for (detail::list_node* n = m_asyncgens.head.next; n != &m_asyncgens.head; n = n->next) {
        auto* g = static_cast<detail::asyncgen_base*>(n);
        if (!g->running) {
            closing.push_back(spawn_on(*this, detail::aclose_asyncgen(g)));
        }
    }
    for (auto& h : closing) {
        std::exception_ptr error;
        try {
            co_await h;
        } catch (...) {
            error = std::current_exception();
        }
        if (error) {
            call_exception_handler(
                {"error while closing an async generator at shutdown", error, {}});
        }
    }
}

} // namespace corio
