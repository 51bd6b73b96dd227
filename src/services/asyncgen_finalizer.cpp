// The async-generator finalizer service (PEP 525's loop hooks): the registry of a loop's
// open async generators, the finalizer task for a generator dropped while suspended, and
// shutdown_asyncgens(), which run() awaits before closing the loop. Made when the first
// async generator starts on a loop. When the loop closes, the generators still open leave
// its registry: they outlive it, and one dropped later is destroyed as with no loop running
// (the destructors of its locals run; no cleanup that awaits).

#include "corio/async_generator.hpp"

#include "corio/detail/loop_service.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"

#include <utility>
#include <vector>

namespace corio {
namespace detail {

class asyncgen_finalizer final : public loop_service {
public:
    static constexpr char key = 0;

    explicit asyncgen_finalizer(event_loop&) noexcept : loop_service(&key) {}

    void on_close(event_loop&) noexcept override {
        while (list_node* n = m_open.pop_front()) {
            static_cast<asyncgen_base*>(n)->loop = nullptr;
        }
    }

    /// The open generators, in the order they started.
    [[nodiscard]] intrusive_list& open() noexcept { return m_open; }

private:
    intrusive_list m_open;
};

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
/// Owns a dropped generator's frame: a coroutine parameter, so the frame is destroyed with
/// the finalizer task's frame however that task ends, even if it is cancelled (at loop
/// shutdown) before its first step.
class owned_frame {
public:
    explicit owned_frame(asyncgen_base* g) noexcept : m_g(g) {}
    owned_frame(owned_frame&& other) noexcept : m_g(std::exchange(other.m_g, nullptr)) {}
    owned_frame(const owned_frame&) = delete;
    owned_frame& operator=(const owned_frame&) = delete;
    owned_frame& operator=(owned_frame&&) = delete;
    ~owned_frame() {
        if (m_g != nullptr) {
            m_g->handle.destroy();
        }
    }
    [[nodiscard]] asyncgen_base* get() const noexcept { return m_g; }

private:
    asyncgen_base* m_g;
};

task<> finalize(owned_frame frame) {
    std::exception_ptr error;
    try {
        co_await aclose_asyncgen(frame.get());
    } catch (...) {
        error = std::current_exception();
    }
    if (error && !is_cancellation(error)) {
        get_running_loop().call_exception_handler(
            {"error while finalizing an async generator dropped before it finished", error, {}});
    }
}
} // namespace

void finalize_asyncgen(asyncgen_base& g) noexcept {
    // Whatever happens, exactly one owned_frame (this one, or the task's copy) destroys
    // the frame.
    owned_frame frame(&g);
    try {
        spawn_on(*g.loop, finalize(std::move(frame)), "async generator finalizer");
    } catch (...) {
        // Out of memory: the frame is destroyed without its cleanup running.
    }
}

} // namespace detail

detail::intrusive_list& event_loop::asyncgen_registry() noexcept {
    // noexcept as it always was: out of memory for the service's few bytes terminates.
    return service<detail::asyncgen_finalizer>().open();
}

task<> event_loop::shutdown_asyncgens() {
    std::vector<join_handle<>> closing;
    auto* finalizer =
        static_cast<detail::asyncgen_finalizer*>(find_service(&detail::asyncgen_finalizer::key));
    if (finalizer == nullptr) {
        co_return;
    }
    detail::intrusive_list& open = finalizer->open();
    for (detail::list_node* n = open.head.next; n != &open.head; n = n->next) {
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
