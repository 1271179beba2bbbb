// pipeline/runtime/retry.hpp: bounded retries with exponential backoff and jitter for transient
// faults.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>
#include <type_traits>

#include "pipeline/core/error.hpp"

namespace pipeline {

/// How hard to retry. `max_attempts` counts the first try: 1 means no retry.
struct RetryPolicy {
    int max_attempts = 6;
    std::chrono::milliseconds base_delay{1000};
    std::chrono::milliseconds max_delay{30000};
};

/// The wait before retry number `retry` (1-based): "equal jitter", i.e.
/// half of min(max_delay, base_delay * 2^(retry-1)) plus a uniform share of
/// the other half chosen by `random`. Pure.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, std::uint64_t random);

/// Runs operations, retrying those that fail with a transient Error (lost
/// connection, SQLSTATE class 08, 40001, 40P01, 57P01-57P03, 53300) up to the
/// policy's bound. Anything else is rethrown at once. Each retry is logged
/// with the operation, attempt, delay and the server's message. A stop
/// request (stop.hpp) during a wait ends it with Error(cancelled).
class Retrier {
public:
    explicit Retrier(RetryPolicy policy);

    /// `attempt()` is called until it returns, fails for good, or the
    /// attempts are used up (then the last error is rethrown).
    template <class F>
    std::invoke_result_t<F&> run(std::string_view operation, F&& attempt) {
        for (int tries = 1;; ++tries) {
            try {
                return attempt();
            } catch (const Error& e) {
                if (!e.transient() || tries >= policy_.max_attempts) {
                    throw;
                }
                wait_before_retry(operation, e, tries);
            }
        }
    }

    /// Retries done so far, over all operations.
    int retries() const noexcept { return retries_; }

private:
    void wait_before_retry(std::string_view operation, const Error& error, int failed_tries);

    RetryPolicy policy_;
    std::mt19937_64 random_;
    int retries_ = 0;
};

}  // namespace pipeline
