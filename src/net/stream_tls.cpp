// stream::start_tls: a stream's transport becomes a TLS transport wrapping it.

#include "stream_state.hpp"
#include "tls_transport.hpp"

#include "corio/cancel_scope.hpp"

#include <stdexcept>

namespace corio {

namespace detail {
namespace {

task<> start_tls_impl(state_ref s, tls_context ctx, tls_options options) {
    if (!ctx.valid()) {
        throw std::invalid_argument("start_tls " + s->name + ": the tls_context is empty");
    }
    if (s->t->tls() != nullptr || s->starting_tls) {
        throw invalid_state_error("start_tls: " + s->name + " is already TLS");
    }
    s->check_writable("start_tls");
    const read_guard guard(*s, "start_tls");
    s->starting_tls = true;
    struct done {
        stream_state& s;
        ~done() { s.starting_tls = false; }
    } finally{*s};

    // What was written goes out first, in the clear.
    while (!s->write_error && !s->closing && (s->pending() > 0 || s->flushing)) {
        co_await queue_wait(s->drain_waiters);
    }
    if (s->write_error) {
        std::rethrow_exception(s->write_error);
    }
    if (s->closing) {
        throw invalid_state_error("start_tls: " + s->name + " was closed meanwhile");
    }
    if (s->receiving) {
        s->receiving = false;
        s->t->pause_receive(); // what it still delivers goes to the TLS transport
    }
    const std::string_view early(s->rdata(), s->buffered());
    auto tls =
        std::make_unique<tls_transport>(*s->loop, s->t, ctx, options.server_hostname.view(), early);
    s->consume(s->buffered());
    tls_transport& handshaking = *tls;
    s->adopt(std::move(tls));
    s->eof = false;
    try {
        if (options.handshake_timeout > clock::duration::zero()) {
            co_await fail_after(options.handshake_timeout, handshaking.handshake());
        } else {
            co_await handshaking.handshake();
        }
    } catch (const timeout_error&) {
        s->abort();
        throw timeout_error(
            "tls handshake with " + s->name + ": timed out after " +
            std::to_string(std::chrono::duration<double>(options.handshake_timeout).count()) +
            " s");
    } catch (...) {
        s->abort();
        throw;
    }
}

} // namespace
} // namespace detail

task<> stream::start_tls(tls_context ctx, tls_options options) {
    return detail::start_tls_impl(detail::state_ref(state("start_tls")), std::move(ctx), options);
}

const tls_info* stream::tls() const {
    return state("tls").t->tls();
}

} // namespace corio
