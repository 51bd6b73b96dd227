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

    explicit executor_service(event_loop&) : loop_service(&key) {}

    thread_pool& pool() {
        if (!m_pool) {
            m_pool = std::make_unique<thread_pool>();
        }
        return *m_pool;
    }
    void shutdown() {
        if (m_pool) {
            m_pool->shutdown(true);
        }
    }
    void on_closing(event_loop&) override { shutdown(); }
    void on_close(event_loop&) noexcept override {}

private:
    std::unique_ptr<thread_pool> m_pool;
};

} // namespace detail

executor& event_loop::default_executor() {
    return service<detail::executor_service>().pool();
}

void event_loop::shutdown_default_executor() {
    if (auto* s = find_service(&detail::executor_service::key)) {
        static_cast<detail::executor_service*>(s)->shutdown();
    }
}

} // namespace corio
