#pragma once
// How the event loop knows the services beside it (shared/DESIGN.md: signal handlers, the
// default executor, the finalizer of async generators): only through this interface.
//
// A service is made the first time it is needed on a loop (`event_loop::service<S>()`),
// which registers it; the loop holds it until the loop is destroyed and calls it when it
// closes, in the order the services registered. The loop's own parts (the ready queue, the
// timer queue, park/wake, the task control block) are not services.

namespace corio {
class event_loop;
}

namespace corio::detail {

/// Something that holds resources for one loop and must give them up when it closes.
class loop_service {
public:
    /// `key` names the kind of service: the address of an object of the service's own
    /// (`&S::key`), so that a loop holds at most one of each kind.
    explicit loop_service(const void* key) noexcept : m_key(key) {}
    loop_service(const loop_service&) = delete;
    loop_service& operator=(const loop_service&) = delete;
    virtual ~loop_service() = default;

    /// close() begins: the tasks still pending are about to be destroyed. A service whose
    /// work a pending task may be waiting for finishes it here (the default executor lets
    /// its threads finish their calls).
    virtual void on_closing(event_loop& /*loop*/) {}
    /// close(): the pending tasks are gone, the reactor is still open. Give up everything
    /// held for the loop (signal handlers and their signalfd, the registry of open async
    /// generators).
    virtual void on_close(event_loop& loop) noexcept = 0;

    [[nodiscard]] const void* key() const noexcept { return m_key; }

private:
    const void* m_key;
};

} // namespace corio::detail
