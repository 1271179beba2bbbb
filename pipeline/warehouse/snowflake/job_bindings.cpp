// pipeline/warehouse/snowflake/job_bindings.cpp: column buffers of JSON strings.
#include "pipeline/warehouse/snowflake/job_bindings.hpp"

#include <fmt/format.h>

#include "pipeline/core/error.hpp"
#include "pipeline/jobs/values.hpp"
#include "pipeline/warehouse/job_sql.hpp"

namespace pipeline {

JobBindings::JobBindings(const JobTable& job) : job_(job), columns_(job.columns.size()) {}

void JobBindings::add_row(const std::vector<std::optional<std::string_view>>& fields) {
    for (std::size_t c = 0; c < columns_.size(); ++c) {
        std::string& out = columns_[c];
        if (rows_ > 0) {
            out += ',';
        }
        if (!fields[c]) {
            out += "null";
            continue;
        }
        scratch_.clear();
        if (!append_snowflake_text(job_.columns[c].type, *fields[c], scratch_)) {
            throw Error(ErrorKind::internal,
                        fmt::format("job {}: column {} holds a value that is not a well-formed "
                                    "{} in binary",
                                    job_.name, job_.columns[c].name, job_.columns[c].type.pg_type));
        }
        out += '"';
        append_json_escaped(scratch_, out);
        out += '"';
    }
    ++rows_;
}

std::size_t JobBindings::bytes() const noexcept {
    std::size_t total = 2;
    for (const std::string& c : columns_) {
        total += c.size() + 40;  // {"n":{"type":"BOOLEAN","value":[...]}},
    }
    return total;
}

std::string JobBindings::json() const {
    std::string out = "{";
    for (std::size_t c = 0; c < columns_.size(); ++c) {
        out += fmt::format("{}\"{}\":{{\"type\":\"{}\",\"value\":[", c == 0 ? "" : ",", c + 1,
                           sf_job_binding_type(job_.columns[c].type));
        out += columns_[c];
        out += "]}";
    }
    return out + "}";
}

void JobBindings::clear() {
    for (std::string& c : columns_) {
        c.clear();
    }
    rows_ = 0;
}

}  // namespace pipeline
