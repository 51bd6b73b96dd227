#pragma once
// The recycling allocator for coroutine frames and task control blocks.
//
// Spawning a task allocates its frame and its control block; with malloc that is most of
// the cost of a short task (two allocations and two frees, each tens of instructions, plus
// malloc's 16-byte headers). Here each thread keeps free lists by size class (16-byte
// steps up to 512 bytes): a block freed is pushed on its class's list and the next
// allocation of that class pops it, a handful of instructions, no header (the size comes
// from sized deallocation). Lists are refilled from 64 KiB chunks that are never returned
// to the system while the process runs; a block freed on another thread joins that
// thread's lists, which is safe because lists are per thread and blocks carry no owner.
//
// Under AddressSanitizer or ThreadSanitizer the pool steps aside and every block comes from
// operator new, so use-after-free of a frame is still caught.

#include <cstddef>
#include <new>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CORIO_FRAME_POOL 0
#endif
#endif
#if !defined(CORIO_FRAME_POOL)
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(CORIO_SANITIZE_BUILD)
#define CORIO_FRAME_POOL 0
#else
#define CORIO_FRAME_POOL 1
#endif
#endif

namespace corio::detail {

inline constexpr std::size_t frame_pool_granule = 16;
inline constexpr std::size_t frame_pool_max = 512;

struct frame_pool {
    void* heads[frame_pool_max / frame_pool_granule + 1];
};
inline thread_local frame_pool t_frame_pool{};

/// Carve a new chunk into blocks of size class `cls` and return one.
void* frame_pool_refill(std::size_t cls);

inline void* allocate_frame(std::size_t size) {
#if CORIO_FRAME_POOL
    if (size <= frame_pool_max) {
        const std::size_t cls = (size + frame_pool_granule - 1) / frame_pool_granule;
        void*& head = t_frame_pool.heads[cls];
        if (void* block = head) {
            head = *static_cast<void**>(block);
            return block;
        }
        return frame_pool_refill(cls);
    }
#endif
    return ::operator new(size);
}

inline void deallocate_frame(void* block, std::size_t size) noexcept {
#if CORIO_FRAME_POOL
    if (size <= frame_pool_max) {
        const std::size_t cls = (size + frame_pool_granule - 1) / frame_pool_granule;
        void*& head = t_frame_pool.heads[cls];
        *static_cast<void**>(block) = head;
        head = block;
        return;
    }
#endif
#if defined(__cpp_sized_deallocation)
    ::operator delete(block, size);
#else
    (void)size; // clang enables sized deallocation only with -fsized-deallocation
    ::operator delete(block);
#endif
}

} // namespace corio::detail
