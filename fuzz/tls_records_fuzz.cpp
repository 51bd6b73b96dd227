// libFuzzer target for corio's TLS 1.3 record layer (src/net/tls_records.cpp). A peer
// seals what the input says with the right keys, so that it opens: application data,
// records of any content type (alerts, handshake messages of any kind and length, split
// or not, nothing but padding), key updates; raw bytes are mixed in; and the receiving side
// is fed the wire in pieces of any size and read with buffers of any size. It must never
// crash or overrun, never return more than asked, stop for good once it has failed or the
// peer has closed, and keep what it queues bounded.

#include "net/tls_records.hpp"

#include <openssl/obj_mac.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

using corio::detail::tls13_records;

namespace {

void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    static const int nids[] = {NID_aes_128_gcm, NID_aes_256_gcm, NID_chacha20_poly1305};
    const int nid = nids[data[0] % 3];
    const std::vector<unsigned char> secret(nid == NID_aes_256_gcm ? 48 : 32, 0x5a);
    const bool server = (data[0] & 4) != 0;
    auto peer = tls13_records::make(nid, secret, secret, !server);
    auto me = tls13_records::make(nid, secret, secret, server);
    check(peer != nullptr && me != nullptr);

    std::size_t i = 1;
    auto next = [&]() -> std::size_t { return i < size ? data[i++] : 0; };
    auto take = [&](std::size_t n) {
        n = std::min(n, size - i);
        std::span<const char> v(reinterpret_cast<const char*>(data) + i, n);
        i += n;
        return v;
    };

    std::string wire;
    std::ptrdiff_t last = 1; // the last read's result
    char buffer[300];
    auto deliver = [&](std::size_t n, std::size_t read_size) {
        n = std::min(n, wire.size());
        me->feed(wire.data(), n);
        wire.erase(0, n);
        check(me->queued() <= 16 * 1024 * 1024);
        while (true) {
            const std::ptrdiff_t r = me->read(std::span<char>(buffer, read_size));
            check(r <= static_cast<std::ptrdiff_t>(read_size));
            // once ended or failed, always so
            check(!(last == 0 && r != 0) && !(last == tls13_records::failed && r != last));
            if (r <= 0) {
                if (r != tls13_records::need_more) {
                    last = r;
                }
                break;
            }
        }
        me->pending().clear(); // what it answered (a key update, an alert)
    };

    while (i < size) {
        const std::uint8_t op = data[i++];
        switch (op % 6) {
        case 0: // application data, up to 255 bytes
            peer->write(take(next()), wire);
            break;
        case 1: { // a record of any content type: type, length, content
            const auto type = static_cast<std::uint8_t>(next());
            peer->seal_record(type, take(next()), wire);
            break;
        }
        case 2: // a key update, asking for one back or not
            peer->key_update((op & 8) != 0, wire);
            break;
        case 3: { // raw bytes
            const std::span<const char> raw = take(next());
            wire.append(raw.data(), raw.size());
            break;
        }
        case 4: // deliver part of the wire, read with a buffer of 1..300 bytes
            deliver(next() * 64 + 1, 1 + next() % sizeof buffer);
            break;
        case 5:
            (void)me->end_is_next();
            break;
        }
    }
    deliver(wire.size(), sizeof buffer);
    return 0;
}
