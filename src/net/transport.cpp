// What every transport gets unless it says otherwise: no fast paths (the stream then awaits
// read and write), no background receive or submitted writes, no addresses, no fd.

#include "corio/net/transport.hpp"

#include <stdexcept>

namespace corio {

transport::~transport() = default;

std::ptrdiff_t transport::try_read(std::span<char>) {
    return would_block;
}
std::ptrdiff_t transport::read_arrived(std::span<char> out) {
    return try_read(out);
}
int transport::readable_fd() const noexcept {
    return -1;
}
bool transport::eof_arrived() noexcept {
    return false;
}
bool transport::receives_in_background() const noexcept {
    return false;
}
bool transport::start_receive(receiver&) {
    return false;
}
void transport::pause_receive() noexcept {}

std::ptrdiff_t transport::try_write(std::span<const char>) {
    return would_block;
}
bool transport::submits_writes() const noexcept {
    return false;
}
void transport::submit_write(std::span<const char>, write_completion&) {
    throw std::logic_error("transport::submit_write: " + name() +
                           " does not take submitted writes (submits_writes() is false)");
}

bool transport::can_write_eof() const noexcept {
    return can_write();
}
void transport::abort() noexcept {
    close();
}

socket_address transport::peer_address() const {
    return {};
}
socket_address transport::local_address() const {
    return {};
}
int transport::fd() const noexcept {
    return -1;
}
bool transport::can_read() const noexcept {
    return true;
}
bool transport::can_write() const noexcept {
    return true;
}

const tls_info* transport::tls() const noexcept {
    return nullptr;
}

} // namespace corio
