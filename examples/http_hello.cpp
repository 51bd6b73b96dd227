// An HTTP/1.1 "Hello, World!" server: every request gets `200 OK`, `text/plain`,
// "Hello, World!". Keep-alive and pipelining come with corio::http::serve.
//
//   http_hello [--host H] [--port N] [--tls CERT KEY] [--workers N | --threads N]
//              [--work-us U]
//
// 127.0.0.1:8080 by default (port 0: any free one); with --tls, HTTPS with the certificate
// chain in CERT and its key in KEY (PEM files). Every core:
// - --workers N: N processes (0: one per CPU), each a loop listening on the port with
//   SO_REUSEPORT (corio::run_workers): a worker that crashes is restarted, SIGHUP replaces
//   them one by one without refusing a connection;
// - --threads N: a loop per thread on N threads in this process (corio::run_per_core); a
//   port must then be given.
// --work-us U: each request burns U µs of CPU before its answer (benchmark W9).
// Try it with `curl http://127.0.0.1:8080/` (or `curl --cacert CERT https://localhost:8080/`);
// bench/run loads it with wrk (W6, W8 over TLS, W9 with --work-us).
// SIGINT (Ctrl-C) or SIGTERM stops it gracefully: the server stops listening, the requests
// in progress are answered (for up to 10 s), idle connections are closed, and the program
// exits 0.

#include <corio/corio.hpp>
#include <corio/http/server.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

/// --work-us: the CPU time each request burns before its answer (benchmark W9).
long g_work_us = 0;

/// Spin until this thread has used `us` microseconds of CPU time.
void burn_cpu(long us) {
    timespec start{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    const long long until = start.tv_sec * 1'000'000'000LL + start.tv_nsec + us * 1000LL;
    timespec now = start;
    while (now.tv_sec * 1'000'000'000LL + now.tv_nsec < until) {
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    }
}

/// The handler: called for each request, on the connection's task.
corio::task<corio::http::response> hello(corio::http::request& /*request*/) {
    if (g_work_us > 0) {
        burn_cpu(g_work_us);
    }
    corio::http::response r{200, "Hello, World!"};
    r.headers.set("Content-Type", "text/plain");
    co_return r;
}

/// How long the requests in progress have to finish once SIGINT or SIGTERM came.
constexpr std::chrono::seconds grace_period{10};

/// Listen on host:port, with TLS if `tls` is set, and SO_REUSEPORT if asked.
corio::task<corio::server> start_listening(const std::string& host, std::uint16_t port,
                                           const corio::tls_context& tls, bool reuse_port) {
    corio::http::server_options options{};
    options.tcp.reuse_port = reuse_port;
    // Cancelling serve_forever (as run_workers and run_per_core do on SIGTERM) then stops
    // gracefully.
    options.tcp.grace_period = grace_period;
    if (tls) {
        options.tls = tls;
    }
    return corio::http::serve(hello, host, port, options);
}

corio::task<> serve(std::string host, std::uint16_t port, corio::tls_context tls) {
    corio::server srv = co_await start_listening(host, port, tls, false);
    for (const corio::socket_address& address : srv.addresses()) {
        std::printf("listening on %s://%s/\n", tls ? "https" : "http", address.to_string().c_str());
    }
    std::printf("Ctrl-C to stop\n");
    std::fflush(stdout);

    // Serve until SIGINT or SIGTERM, whichever comes first.
    std::vector<corio::join_handle<int>> stop;
    stop.push_back(corio::spawn(corio::signal(SIGINT)));
    stop.push_back(corio::spawn(corio::signal(SIGTERM)));
    auto [done, pending] = co_await corio::wait(stop, corio::return_when::first_completed);
    for (auto& h : pending) {
        h.cancel();
    }
    // Stop listening, answer the requests in progress, close the idle connections.
    co_await srv.shutdown(grace_period);
}

/// One worker (--workers: a process; --threads: a thread): serves until run_workers or
/// run_per_core cancels it (SIGINT, SIGTERM), then stops gracefully (grace_period).
corio::task<> serve_in_worker(std::string host, std::uint16_t port, corio::tls_context tls) {
    // every worker listens on the port; the kernel spreads the connections
    corio::server srv = co_await start_listening(host, port, tls, true);
    if (corio::worker_index() == 0) {
        std::printf("listening on %s://%s:%u/ in each of %zu workers\n", tls ? "https" : "http",
                    host.c_str(), static_cast<unsigned>(srv.port()), corio::worker_count());
        std::printf("Ctrl-C to stop\n");
        std::fflush(stdout);
    }
    co_await srv.serve_forever();
}

/// `text` as a whole number in [0, max], or -1.
long whole_number(const char* text, long max) {
    char* end = nullptr;
    const long n = std::strtol(text, &end, 10);
    return *text == '\0' || *end != '\0' || n < 0 || n > max ? -1 : n;
}

/// The value of `--name V` or `--name=V` at argv[i] (advancing i past V), or nullptr.
const char* option(int argc, char** argv, int& i, std::string_view name) {
    const std::string_view arg = argv[i];
    if (arg == name && i + 1 < argc) {
        return argv[++i];
    }
    if (arg.size() > name.size() && arg.substr(0, name.size()) == name && arg[name.size()] == '=') {
        return argv[i] + name.size() + 1;
    }
    return nullptr;
}

} // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    long port = 8080;
    const char* cert = nullptr;
    const char* key = nullptr;
    long workers = 1;
    long threads = 1;
    for (int i = 1; i < argc; ++i) {
        if (const char* v = option(argc, argv, i, "--host")) {
            host = v;
        } else if (const char* p = option(argc, argv, i, "--port")) {
            port = whole_number(p, 65535);
            if (port < 0) {
                std::fprintf(stderr, "http_hello: --port wants 0 to 65535, not \"%s\"\n", p);
                return 2;
            }
        } else if (const char* u = option(argc, argv, i, "--work-us")) {
            g_work_us = whole_number(u, 1'000'000);
            if (g_work_us < 0) {
                std::fprintf(stderr, "http_hello: --work-us wants 0 to 1000000, not \"%s\"\n", u);
                return 2;
            }
        } else if (const char* w = option(argc, argv, i, "--workers")) {
            workers = whole_number(w, 1024);
            if (workers < 0) {
                std::fprintf(stderr, "http_hello: --workers wants 0 to 1024, not \"%s\"\n", w);
                return 2;
            }
        } else if (const char* t = option(argc, argv, i, "--threads")) {
            threads = whole_number(t, 1024);
            if (threads < 0) {
                std::fprintf(stderr, "http_hello: --threads wants 0 to 1024, not \"%s\"\n", t);
                return 2;
            }
        } else if (std::string_view(argv[i]) == "--tls" && i + 2 < argc) {
            cert = argv[++i];
            key = argv[++i];
        } else {
            std::fprintf(stderr,
                         "usage: %s [--host H] [--port N] [--tls CERT KEY] [--workers N | "
                         "--threads N] [--work-us U]\n",
                         argv[0]);
            return 2;
        }
    }
    if (workers != 1 && threads != 1) {
        std::fprintf(stderr, "http_hello: --workers or --threads, not both\n");
        return 2;
    }
    if (threads != 1 && port == 0) {
        std::fprintf(stderr, "http_hello: --threads wants a --port (each loop listens on it)\n");
        return 2;
    }
    try {
        corio::tls_context tls;
        if (cert != nullptr) {
            tls = corio::tls_context::server(cert, key); // names a file it cannot use
        }
        const auto in_worker = [&](std::size_t) {
            return serve_in_worker(host, static_cast<std::uint16_t>(port), tls);
        };
        // Both end with 128 + the signal's number once SIGINT or SIGTERM has stopped every
        // worker: a clean stop, as with one loop.
        if (workers != 1) {
            const int status = corio::run_workers(static_cast<std::size_t>(workers), in_worker);
            return status >= 128 ? 0 : status;
        }
        if (threads != 1) {
            const int status = corio::run_per_core(static_cast<std::size_t>(threads), in_worker);
            return status >= 128 ? 0 : status;
        }
        corio::run(serve(host, static_cast<std::uint16_t>(port), std::move(tls)));
    } catch (const std::exception& e) {
        // e.g. "bind 127.0.0.1:8080: Address already in use"
        std::fprintf(stderr, "http_hello: %s\n", e.what());
        return 1;
    }
    return 0;
}
