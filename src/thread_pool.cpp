#include "corio/thread_pool.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>

namespace corio {

executor::~executor() = default;

thread_pool::thread_pool(std::size_t max_threads)
    : m_max_threads(max_threads != 0
                        ? max_threads
                        : std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4)) {}

thread_pool::~thread_pool() {
    shutdown(true);
}

void thread_pool::submit(std::function<void()> job) {
    std::unique_lock lock(m_mutex);
    if (m_stopping) {
        throw invalid_state_error("thread_pool.submit: the pool has been shut down");
    }
    m_jobs.push_back(std::move(job));
    if (m_idle == 0 && m_threads.size() < m_max_threads) {
        m_threads.emplace_back([this] { work(); });
    } else {
        lock.unlock();
        m_cv.notify_one();
    }
}

void thread_pool::work() {
    std::unique_lock lock(m_mutex);
    for (;;) {
        ++m_idle;
        m_cv.wait(lock, [this] { return m_stopping || !m_jobs.empty(); });
        --m_idle;
        if (m_jobs.empty()) {
            return; // stopping, and nothing left to run
        }
        std::function<void()> job = std::move(m_jobs.front());
        m_jobs.pop_front();
        lock.unlock();
        try {
            job();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "corio: exception escaped a thread_pool job: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "corio: exception escaped a thread_pool job\n");
        }
        lock.lock();
    }
}

void thread_pool::shutdown(bool wait) {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
        if (!wait) {
            m_jobs.clear();
        }
        threads.swap(m_threads);
    }
    m_cv.notify_all();
    for (auto& t : threads) {
        if (t.get_id() == std::this_thread::get_id()) {
            t.detach(); // shut down from one of its own jobs
        } else {
            t.join();
        }
    }
}

std::size_t thread_pool::thread_count() const {
    std::lock_guard lock(m_mutex);
    return m_threads.size();
}

} // namespace corio
