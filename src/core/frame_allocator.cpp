#include "corio/detail/frame_allocator.hpp"

#include <mutex>
#include <vector>

namespace corio::detail {

namespace {
constexpr std::size_t chunk_bytes = 64 * 1024;

// Every chunk stays reachable from here for the life of the process, so leak checkers do
// not report the blocks sitting in a finished thread's free lists.
std::mutex g_chunks_mutex;
std::vector<void*>* g_chunks = nullptr;
} // namespace

void* frame_pool_refill(std::size_t cls) {
    const std::size_t block = cls * frame_pool_granule;
    auto* chunk = static_cast<char*>(::operator new(chunk_bytes));
    {
        std::lock_guard lock(g_chunks_mutex);
        if (g_chunks == nullptr) {
            g_chunks = new std::vector<void*>();
        }
        g_chunks->push_back(chunk);
    }
    const std::size_t count = chunk_bytes / block;
    void*& head = t_frame_pool.heads[cls];
    // Block 0 is returned; blocks 1..count-1 go on the free list.
    for (std::size_t i = count - 1; i >= 1; --i) {
        void* b = chunk + i * block;
        *static_cast<void**>(b) = head;
        head = b;
    }
    return chunk;
}

} // namespace corio::detail
