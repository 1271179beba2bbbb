// pipeline/run_lock.cpp: pg_try_advisory_lock and the holder lookup.
#include "pipeline/run_lock.hpp"

#include <fmt/format.h>

#include <vector>

namespace pipeline {

std::optional<RunLock> RunLock::try_acquire(const Secret& url, const std::string& pipeline,
                                            const std::string& application_name,
                                            std::string& holder) {
    PgConnection conn(url, ErrorKind::destination, "LOCK", application_name);
    const std::vector<std::optional<std::string>> params = {std::to_string(run_lock_class_id),
                                                            pipeline};
    const PgResult got = conn.exec_params("SELECT pg_try_advisory_lock($1::int, hashtext($2))",
                                          params, "[pg_try_advisory_lock]");
    if (got.value(0, 0) == "t") {
        return RunLock(std::move(conn));
    }
    const PgResult who = conn.exec_params(
        "SELECT a.pid::text, coalesce(a.application_name, ''), coalesce(host(a.client_addr), "
        "'local'), coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') FROM pg_locks l JOIN pg_stat_activity a USING "
        "(pid) "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int::oid "
        "AND l.objid = (hashtext($2)::bigint & 4294967295)::oid AND l.objsubid = 2",
        params, "[find lock holder]");
    if (who.rows() > 0) {
        holder = fmt::format("pid {} ({}) from {} since {}", who.value(0, 0), who.value(0, 1),
                             who.value(0, 2), who.value(0, 3));
    } else {
        holder = "another session (not visible to this user)";
    }
    return std::nullopt;
}

}  // namespace pipeline
