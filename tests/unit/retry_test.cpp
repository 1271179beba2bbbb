// tests/unit/retry_test.cpp: backoff arithmetic and which errors are retried.
#include "pipeline/runtime/retry.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "pipeline/runtime/logging.hpp"

namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, GrowsExponentiallyWithinHalfAndFullOfTheStep) {
    const pipeline::RetryPolicy policy{6, milliseconds(100), milliseconds(100000)};
    for (int retry = 1; retry <= 6; ++retry) {
        const long long full = 100LL << (retry - 1);
        EXPECT_EQ(pipeline::backoff_delay(policy, retry, 0).count(), full / 2) << retry;
        EXPECT_EQ(pipeline::backoff_delay(policy, retry, ~0ULL).count() >= full / 2, true);
        EXPECT_LE(pipeline::backoff_delay(policy, retry, ~0ULL).count(), full) << retry;
        EXPECT_EQ(pipeline::backoff_delay(policy, retry, static_cast<std::uint64_t>(full / 2)),
                  milliseconds(full))
            << retry;
    }
}

TEST(BackoffTest, IsCappedAndNeverOverflows) {
    const pipeline::RetryPolicy policy{20, milliseconds(1000), milliseconds(30000)};
    for (std::uint64_t random : {0ULL, 7ULL, ~0ULL}) {
        const auto delay = pipeline::backoff_delay(policy, 60, random);
        EXPECT_GE(delay, milliseconds(15000));
        EXPECT_LE(delay, milliseconds(30000));
    }
}

TEST(BackoffTest, JitterSpreadsTheDelays) {
    const pipeline::RetryPolicy policy{6, milliseconds(1000), milliseconds(30000)};
    EXPECT_NE(pipeline::backoff_delay(policy, 3, 1), pipeline::backoff_delay(policy, 3, 1500));
}

class RetrierTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { pipeline::init_logging(pipeline::LogLevel::error); }
    pipeline::Retrier retrier_{{4, milliseconds(1), milliseconds(2)}};
};

TEST_F(RetrierTest, RetriesTransientErrorsUntilSuccess) {
    int calls = 0;
    const int result = retrier_.run("op", [&] {
        if (++calls < 3) {
            throw pipeline::Error(pipeline::ErrorKind::destination, "gone", "57P01");
        }
        return 42;
    });
    EXPECT_EQ(result, 42);
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(retrier_.retries(), 2);
}

TEST_F(RetrierTest, GivesUpAfterMaxAttemptsWithTheLastError) {
    int calls = 0;
    try {
        retrier_.run("op", [&] {
            ++calls;
            throw pipeline::Error(pipeline::ErrorKind::source, "lost", "08006");
        });
        FAIL() << "no error";
    } catch (const pipeline::Error& e) {
        EXPECT_EQ(e.sqlstate(), "08006");
    }
    EXPECT_EQ(calls, 4);
}

TEST_F(RetrierTest, PermanentErrorsAreNotRetried) {
    for (const char* sqlstate : {"42P01", "23505", "57014", "28P01", ""}) {
        int calls = 0;
        EXPECT_THROW(retrier_.run("op",
                                  [&] {
                                      ++calls;
                                      throw pipeline::Error(pipeline::ErrorKind::destination, "no",
                                                            sqlstate);
                                  }),
                     pipeline::Error);
        EXPECT_EQ(calls, 1) << sqlstate;
    }
}

TEST(TransientSqlstateTest, MatchesTheDocumentedSet) {
    for (const char* yes : {"08000", "08001", "08006", "08P01", "40001", "40P01", "57P01", "57P02",
                            "57P03", "53300"}) {
        EXPECT_TRUE(pipeline::is_transient_sqlstate(yes)) << yes;
    }
    for (const char* no : {"40002", "57014", "53100", "42601", "22P02", "0800", ""}) {
        EXPECT_FALSE(pipeline::is_transient_sqlstate(no)) << no;
    }
}

}  // namespace
