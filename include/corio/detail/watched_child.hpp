#pragma once
// A spawned task watched by its owner (a task group, or a combinator's child_set) through a
// completion listener on its control block.
//
// The owner gives each child a watched_child: the listener (whose `context` points back at
// the owner, and whose on_complete is the owner's), a reference on the child's control
// block, the child's position in the owner's list, and whether the owner has already
// cancelled it. An owner cancels a child once: a second request (a second failure, the
// owner's task cancelled as well) must not interrupt the child's cleanup.
//
// Lifetime: watch() takes a reference on the control block, and stop_watching() unlinks
// the listener (if it is still linked) and drops that reference, so an owner destroyed
// before its children complete (loop close) leaves nothing that could call back into it.

#include "corio/detail/task_state.hpp"

#include <cstddef>

namespace corio::detail {

/// One child task watched by its owner (see the file comment).
struct watched_child : completion_listener {
    task_state_base* state = nullptr;
    /// The child's position in its owner's list.
    std::size_t index = 0;
    /// The owner has cancelled it.
    bool cancel_sent = false;

    /// Watch `s` as child `i` of `owner`: `complete(*this)` runs when it completes (once
    /// linked with listen()). Takes a reference on `s`.
    void watch(task_state_base& s, std::size_t i, void* owner,
               void (*complete)(completion_listener&)) noexcept {
        context = owner;
        state = &s;
        index = i;
        on_complete = complete;
        s.add_ref();
    }
    /// Link the listener on the child's control block (the child has not completed).
    void listen() noexcept { state->add_listener(*this); }

    /// The owner given to watch().
    template <class Owner>
    [[nodiscard]] Owner& owner() const noexcept {
        return *static_cast<Owner*>(context);
    }

    /// Cancel the child unless it has finished or was already cancelled by its owner.
    /// \throws what task_state_base::cancel() throws.
    void cancel_once() {
        if (!cancel_sent && !state->done()) {
            cancel_sent = true;
            state->cancel();
        }
    }

    /// Stop watching: unlink the listener and drop the reference on the control block.
    void stop_watching() noexcept {
        unlink();
        state->release();
    }
};

} // namespace corio::detail
