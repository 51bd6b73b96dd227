// W3 ping-pong (shared BENCH.md): two tasks pass an int through two queues of capacity 1,
// 1,000,000 round trips. Reports ns per round trip.
//
//   build/release/bench/w3_ping_pong [--trips=1000000]

#include "workload.hpp"

#include <corio/corio.hpp>

namespace {

corio::task<> ping(corio::queue<long>& out, corio::queue<long>& in, long trips, long& last) {
    for (long i = 0; i < trips; ++i) {
        co_await out.put(i);
        last = co_await in.get();
    }
}

corio::task<> pong(corio::queue<long>& in, corio::queue<long>& out, long trips) {
    for (long i = 0; i < trips; ++i) {
        const long v = co_await in.get();
        co_await out.put(v + 1);
    }
}

corio::task<long> ping_pong(long trips) {
    corio::queue<long> there(1);
    corio::queue<long> back(1);
    long last = -1;
    auto a = corio::spawn(ping(there, back, trips, last));
    auto b = corio::spawn(pong(there, back, trips));
    co_await a;
    co_await b;
    co_return last;
}

} // namespace

int main(int argc, char** argv) {
    const long trips = corio_bench::arg(argc, argv, "trips", 1'000'000);
    const auto start = corio_bench::stopwatch::now();
    const long last = corio::run(ping_pong(trips));
    const double elapsed = corio_bench::seconds_since(start);
    if (last != trips) {
        std::fprintf(stderr, "w3: wrong last value %ld\n", last);
        return 1;
    }
    std::printf("{\"workload\":\"W3\",\"runtime\":\"corio\",\"round_trips\":%ld,\"seconds\":%.4f,"
                "\"ns_per_round_trip\":%.1f}\n",
                trips, elapsed, elapsed * 1e9 / static_cast<double>(trips));
    return 0;
}
