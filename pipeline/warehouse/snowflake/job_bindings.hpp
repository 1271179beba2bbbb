// pipeline/warehouse/snowflake/job_bindings.hpp: a declared job's rows as SQL API array bindings,
// written straight into per-column JSON buffers from the binary values. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/jobs/job_plan.hpp"

namespace pipeline {

class JobBindings {
public:
    explicit JobBindings(const JobTable& job);

    /// Appends one row (binary fields in job.columns order). Throws
    /// Error(internal) on a malformed value.
    void add_row(const std::vector<std::optional<std::string_view>>& fields);
    std::size_t rows() const noexcept { return rows_; }
    /// Bytes the bindings' JSON will take.
    std::size_t bytes() const noexcept;
    /// The "bindings" object: {"1":{"type":"TEXT","value":[...]},...}.
    std::string json() const;
    void clear();

private:
    const JobTable& job_;
    std::vector<std::string> columns_;  ///< each: the values so far, comma-separated JSON
    std::string scratch_;
    std::size_t rows_ = 0;
};

}  // namespace pipeline
