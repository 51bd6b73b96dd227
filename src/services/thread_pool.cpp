#include "corio/thread_pool.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <thread>
#include <utility>

#include <pthread.h>
#include <signal.h>

namespace corio {

namespace {

/// Start a thread with every asynchronous signal blocked. A thread inherits the signal mask
/// of the thread that creates it, so the mask is set around the creation and restored after.
/// Workers never take a signal aimed at the process: it stays for a thread that does not
/// block it, such as a loop reading it from its signalfd (event_loop::add_signal_handler,
/// corio::signal), instead of running its default action (or a handler) in a worker.
/// Signals the kernel raises for a fault of the thread itself stay unblocked: blocking them
/// does not stop them, it only turns a handler into a kill.
template <class F>
std::thread start_thread_with_signals_blocked(F&& fn) {
    sigset_t all;
    sigfillset(&all);
    for (const int synchronous : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
        sigdelset(&all, synchronous);
    }
    sigset_t previous;
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    struct restore {
        const sigset_t* mask;
        ~restore() { pthread_sigmask(SIG_SETMASK, mask, nullptr); }
    } guard{&previous};
    return std::thread(std::forward<F>(fn));
}

} // namespace

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
    // An idle thread takes one job when it wakes; jobs queued beyond the idle threads (two
    // submitted before an idle thread woke) need another thread, else the second waits
    // behind the first, for ever if the first waits for it.
    if (m_jobs.size() > m_idle && m_threads.size() < m_max_threads) {
        m_threads.reserve(m_threads.size() + 1); // push_back must not throw with a thread
        m_threads.push_back(start_thread_with_signals_blocked([this] { work(); }));
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
