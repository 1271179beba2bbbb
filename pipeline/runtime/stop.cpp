// pipeline/runtime/stop.cpp: one lock-free flag.
#include "pipeline/runtime/stop.hpp"

#include <atomic>

namespace pipeline {

namespace {

std::atomic<bool> stop_flag{false};
static_assert(std::atomic<bool>::is_always_lock_free, "a signal handler must be able to set it");

}  // namespace

void request_stop() noexcept {
    stop_flag.store(true, std::memory_order_relaxed);
}

bool stop_requested() noexcept {
    return stop_flag.load(std::memory_order_relaxed);
}

}  // namespace pipeline
