// The default-executor service: the thread pool behind `to_thread` and
// `run_in_executor(loop.default_executor(), ...)` (asyncio's default executor), made on
// first use. When the loop closes, its threads finish the calls they have (their results
// are dropped) before the tasks waiting for them are destroyed; the pool itself lives until
// the loop does.

#include "corio/event_loop.hpp"
#include "corio/thread_pool.hpp"

#include "corio/detail/loop_service.hpp"

#include <memory>

namespace corio {
namespace detail {

class executor_service final : public loop_service {
public:
    static constexpr char key = 0;

    explicit executor_service(event_loop& loop)
        : loop_service(&key), m_link(std::make_shared<loop_link>(&loop)) {}

    executor& get() {
        if (m_borrowed != nullptr) {
            return *m_borrowed;
        }
        if (!m_pool) {
            m_pool = std::make_unique<thread_pool>();
        }
        return *m_pool;
    }
    void borrow(executor& ex) noexcept { m_borrowed = &ex; }
    void shutdown() {
        if (m_pool) {
            m_pool->shutdown(true);
        }
    }
    [[nodiscard]] const std::shared_ptr<loop_link>& link() const noexcept { return m_link; }
    void on_closing(event_loop&) override {
        shutdown();
        m_link->clear(); // calls still running elsewhere (a borrowed executor) are dropped
    }
    void on_close(event_loop&) noexcept override {}

private:
    std::unique_ptr<thread_pool> m_pool;
    executor* m_borrowed = nullptr;
    std::shared_ptr<loop_link> m_link;
};

} // namespace detail

void detail::loop_link::post(std::function<void()> fn) {
    std::lock_guard lock(m_mutex);
    if (m_loop != nullptr) {
        try {
            m_loop->call_soon_threadsafe(std::move(fn));
        } catch (const invalid_state_error&) {
            // closed, the link not cleared yet: dropped all the same
        }
    }
}

void detail::loop_link::clear() noexcept {
    std::lock_guard lock(m_mutex);
    m_loop = nullptr;
}

std::shared_ptr<detail::loop_link> detail::link_of(event_loop& loop) {
    return loop.service<executor_service>().link();
}

namespace detail {} // namespace detail

executor& event_loop::default_executor() {
    return service<detail::executor_service>().get();
}

void event_loop::set_default_executor(executor& ex) {
    service<detail::executor_service>().borrow(ex);
}

void event_loop::shutdown_default_executor() {
    if (auto* s = find_service(&detail::executor_service::key)) {
        static_cast<detail::executor_service*>(s)->shutdown();
    }
}

} // namespace corio
