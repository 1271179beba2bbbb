// pipeline/source/job_lookup.hpp: a declared job's source rows by key, in binary format (DLQ
// replay, verify --repair).
#pragma once

#include <string>
#include <vector>

#include "pipeline/jobs/job_plan.hpp"
#include "pipeline/runtime/pg_connection.hpp"
#include "pipeline/source/job_rows.hpp"

namespace pipeline {

/// A key as text, one value per key column (PostgreSQL's text form).
using KeyText = std::vector<std::string>;

/// Appends to `rows` the source rows of `job` whose key is one of `keys`
/// (every version the table holds: one per key), read through a BINARY
/// cursor so that they load like extracted rows. Throws Error(source).
void fetch_job_rows_by_key(PgConnection& source, const JobTable& job,
                           const std::vector<KeyText>& keys, JobRows& rows);

}  // namespace pipeline
