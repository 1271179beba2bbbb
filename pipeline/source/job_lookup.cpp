// pipeline/source/job_lookup.cpp: (key...) IN (VALUES ...) through a binary cursor.
#include "pipeline/source/job_lookup.hpp"

#include <fmt/format.h>

namespace pipeline {

void fetch_job_rows_by_key(PgConnection& source, const JobTable& job,
                           const std::vector<KeyText>& keys, JobRows& rows) {
    constexpr std::size_t per_statement = 1000;
    std::string names;
    for (std::size_t k = 0; k < job.key.size(); ++k) {
        // An enum or domain key is compared as what the target holds (its text, its base
        // type): the keys asked for come from there, and an enum has no `=` with text.
        const JobColumn& c = job.columns[job.key[k]];
        names += (k == 0 ? "s." : ", s.") + c.name;
        names += c.type.cast_on_extract ? "::" + c.type.pg_type : "";
    }
    for (std::size_t first = 0; first < keys.size(); first += per_statement) {
        const std::size_t last = std::min(keys.size(), first + per_statement);
        std::vector<std::optional<std::string>> params;
        std::string values;
        for (std::size_t i = first; i < last; ++i) {
            values += i == first ? "(" : ", (";
            for (std::size_t k = 0; k < job.key.size(); ++k) {
                params.emplace_back(keys[i].at(k));
                values += fmt::format("{}${}::{}", k == 0 ? "" : ", ", params.size(),
                                      job.columns[job.key[k]].type.pg_type);
            }
            values += ")";
        }
        source.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "[BEGIN lookup]");
        try {
            source.exec_params(
                fmt::format("DECLARE orders_pipeline_lookup BINARY NO SCROLL CURSOR FOR "
                            "SELECT {} FROM {} AS s WHERE ({}) IN (VALUES {})",
                            job_select_list(job), job.source.str(), names, values),
                params, fmt::format("[DECLARE CURSOR lookup {}]", job.source.str()));
            PgResult found = source.exec("FETCH ALL FROM orders_pipeline_lookup", "[FETCH lookup]");
            const int n = found.rows();
            const std::uint32_t part = rows.add_part(std::move(found));
            for (int r = 0; r < n; ++r) {
                rows.add({part, r});
            }
            source.exec("COMMIT", "[COMMIT lookup]");
        } catch (...) {
            if (source.ok()) {
                source.exec("ROLLBACK", "[ROLLBACK lookup]");
            }
            throw;
        }
    }
}

}  // namespace pipeline
