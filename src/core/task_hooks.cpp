// The task hooks' defaults (detail/task_hooks.hpp): what the coroutine types do when no
// event loop has been made in the process. Nothing: no task is spawned without a loop, and
// creation sites, throw sites and never-awaited reports are the loop's debugging aids.

#include "corio/detail/task_hooks.hpp"

namespace corio::detail {

namespace {
void no_spawned_task_complete(task_state_base*) noexcept {}
bool no_start_cancelled(task_state_base*) noexcept {
    return false;
}
bool no_creation_tracking() noexcept {
    return false;
}
void no_record_creation(const void*, const char*, const char*, unsigned) {}
void no_forget_creation(const void*) noexcept {}
void no_never_awaited(const void*) noexcept {}
void no_throw_site(const task_promise_base&) noexcept {}
} // namespace

constinit task_hooks installed_task_hooks{
    &no_spawned_task_complete, &no_start_cancelled, &no_creation_tracking, &no_record_creation,
    &no_forget_creation,       &no_never_awaited,   &no_throw_site,
};

void install_task_hooks(const task_hooks& hooks) noexcept {
    installed_task_hooks = hooks;
}

} // namespace corio::detail
