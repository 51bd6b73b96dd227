// Server-sent events: a clock that sends the time once a second to every client of
// /events, as a response produced by an async generator and written as it is produced;
// and /upload, which counts a request body of any size as it arrives.
//
//   sse_clock [--port N] [--ticks N]
//
// 127.0.0.1:8080 by default (port 0: any free one); --ticks N ends each event stream after
// N events (default: never). Try it with
//   curl -N http://127.0.0.1:8080/events
//   curl -T some-big-file http://127.0.0.1:8080/upload
// or open http://127.0.0.1:8080/ in a browser (a page using EventSource). A client that
// goes away ends its stream: the generator is closed where it waits. Ctrl-C stops it.

#include <corio/corio.hpp>
#include <corio/http/router.hpp>
#include <corio/http/server.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

namespace http = corio::http;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view page = R"(<!doctype html>
<title>corio clock</title>
<p id="t">waiting for the first event...</p>
<script>
new EventSource("/events").onmessage = e => { document.getElementById("t").textContent = e.data; };
</script>
)";

/// One event per second: "id: N", "data: <the time>", and the empty line that ends it.
corio::async_generator<std::string> clock_events(long ticks) {
    // A comment first, so the client sees the stream open at once.
    co_yield ": the corio clock\n\n";
    for (long i = 0; ticks <= 0 || i < ticks; ++i) {
        const std::time_t now = std::time(nullptr);
        char text[64];
        std::tm tm{};
        ::gmtime_r(&now, &tm);
        std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
        co_yield "id: " + std::to_string(i) + "\ndata: " + text + "\n\n";
        co_await corio::sleep(1s);
    }
}

corio::task<int> serve(std::uint16_t port, long ticks) {
    http::router r;
    r.get("/", [](http::request&, const http::route_params&) -> corio::task<http::response> {
        http::response res(200, std::string(page));
        res.headers.set("Content-Type", "text/html; charset=utf-8");
        co_return res;
    });
    r.get("/events",
          [ticks](http::request&, const http::route_params&) -> corio::task<http::response> {
              http::response res;
              res.headers.set("Content-Type", "text/event-stream");
              res.headers.set("Cache-Control", "no-store");
              res.stream_body(clock_events(ticks));
              co_return res;
          });
    r.put("/upload",
          [](http::request& req, const http::route_params&) -> corio::task<http::response> {
              std::uint64_t n = 0;
              while (auto piece = co_await req.body_stream().next()) {
                  n += piece->size();
              }
              co_return http::response(200, std::to_string(n) + " bytes\n");
          });
    corio::server srv = co_await http::serve(r, "127.0.0.1", port, {.stream_request_bodies = true});
    std::printf("serving on http://127.0.0.1:%u/ (events at /events)\n",
                static_cast<unsigned>(srv.port()));
    std::fflush(stdout);
    co_await corio::signal(SIGINT); // until Ctrl-C
    srv.close();                    // stop listening; end every stream where it waits
    co_await srv.wait_closed();
    co_return 0;
}

} // namespace

int main(int argc, char** argv) {
    std::uint16_t port = 8080;
    long ticks = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--port" && i + 1 < argc) {
            port = static_cast<std::uint16_t>(std::strtoul(argv[++i], nullptr, 10));
        } else if (arg == "--ticks" && i + 1 < argc) {
            ticks = std::strtol(argv[++i], nullptr, 10);
        } else {
            std::fprintf(stderr, "usage: sse_clock [--port N] [--ticks N]\n");
            return 2;
        }
    }
    return corio::run(serve(port, ticks));
}
