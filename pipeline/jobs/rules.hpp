// pipeline/jobs/rules.hpp: a declared job's row checks: key and cursor present, then the job's
// rules in file order; the first that fails names the row's DLQ code. Pure.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/jobs/job_plan.hpp"

namespace pipeline {

/// One field of a row in binary format; nullopt is SQL NULL.
using BinaryField = std::optional<std::string_view>;

/// Why a row was rejected: `code` (e.g. "email_pattern", "missing_key") and
/// a message naming the row's key and the value.
struct RowRejection {
    std::string code;
    std::string message;
};

class JobRules {
public:
    JobRules(const JobTable& job, TargetLimits limits);
    JobRules(const JobRules&) = delete;
    JobRules& operator=(const JobRules&) = delete;
    JobRules(JobRules&&) noexcept;
    JobRules& operator=(JobRules&&) noexcept;
    ~JobRules();

    /// Checks one row (`fields` in job.columns order); nullopt when it passes.
    std::optional<RowRejection> check(std::span<const BinaryField> fields) const;

    /// "customer_id=42" or "(a, b)=(1, x)": the row's key for messages.
    std::string describe_key(std::span<const BinaryField> fields) const;

    /// True when only the key and the cursor are checked.
    bool empty() const noexcept { return compiled_.empty() && limited_.empty(); }

private:
    struct Compiled;
    const JobTable* job_;
    std::vector<Compiled> compiled_;
    std::vector<std::size_t> limited_;  ///< columns whose values Snowflake may not hold
};

}  // namespace pipeline
