// pipeline/runtime/retry.cpp: backoff arithmetic and the interruptible wait.
#include "pipeline/runtime/retry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "pipeline/runtime/logging.hpp"
#include "pipeline/runtime/stop.hpp"

namespace pipeline {

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry,
                                        std::uint64_t random) {
    const int doublings = std::clamp(retry - 1, 0, 30);
    const std::int64_t base = policy.base_delay.count();
    const std::int64_t cap = std::max<std::int64_t>(policy.max_delay.count(), 0);
    // Saturating: base * 2^doublings without overflow.
    std::int64_t full = base;
    for (int i = 0; i < doublings && full < cap; ++i) {
        full *= 2;
    }
    full = std::clamp<std::int64_t>(full, 0, cap);
    const std::int64_t half = full / 2;
    const std::int64_t spread = full - half;
    const auto jitter =
        spread > 0 ? static_cast<std::int64_t>(random % static_cast<std::uint64_t>(spread + 1)) : 0;
    return std::chrono::milliseconds(half + jitter);
}

Retrier::Retrier(RetryPolicy policy) : policy_(policy), random_(std::random_device{}()) {}

void Retrier::wait_before_retry(std::string_view operation, const Error& error, int failed_tries) {
    const auto delay = backoff_delay(policy_, failed_tries, random_());
    ++retries_;
    log_warning("transient failure; retrying", {{"event", "retry"},
                                                {"operation", operation},
                                                {"attempt", failed_tries},
                                                {"max_attempts", policy_.max_attempts},
                                                {"delay_ms", delay.count()},
                                                {"sqlstate", error.sqlstate()},
                                                {"error", error.what()}});
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
        if (stop_requested()) {
            throw Error(ErrorKind::cancelled,
                        fmt::format("stopped by a signal while waiting to retry {}: {}", operation,
                                    error.what()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace pipeline
