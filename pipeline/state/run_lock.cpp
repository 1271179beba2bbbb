// pipeline/state/run_lock.cpp: pg_try_advisory_lock, the holder lookup, and re-taking a lost lock.
#include "pipeline/state/run_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "pipeline/runtime/logging.hpp"
#include "pipeline/state/atomic_file.hpp"

namespace pipeline {

std::optional<PgConnection> RunLock::try_lock(const Key& key, std::string& holder) {
    PgConnection conn(key.url, ErrorKind::destination, "LOCK", key.application_name);
    const std::vector<std::optional<std::string>> params = {std::to_string(run_lock_class_id),
                                                            key.pipeline};
    const PgResult got = conn.exec_params("SELECT pg_try_advisory_lock($1::int, hashtext($2))",
                                          params, "[pg_try_advisory_lock]");
    if (got.value(0, 0) == "t") {
        return conn;
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

std::optional<RunLock> RunLock::try_acquire(const Secret& url, const std::string& pipeline,
                                            const std::string& application_name,
                                            std::string& holder) {
    Key key{url, pipeline, application_name};
    auto conn = try_lock(key, holder);
    if (!conn) {
        return std::nullopt;
    }
    return RunLock(std::move(*conn), std::move(key));
}

void RunLock::ensure_held() {
    if (conn_ && conn_->ok()) {
        try {
            conn_->exec("SELECT 1", "[check run lock session]");
            return;
        } catch (const Error& e) {
            if (!e.transient()) {
                throw;
            }
        }
    }
    conn_.reset();
    log_warning("the run lock's session was lost; taking the lock again",
                {{"event", "lock_session_lost"}});
    std::string holder;
    conn_ = try_lock(key_, holder);
    if (!conn_) {
        throw Error(ErrorKind::lock_held,
                    fmt::format("lost the run lock of pipeline '{}' and another run took it ({}); "
                                "stopping without moving the checkpoint",
                                key_.pipeline, holder));
    }
    log_info("run lock taken again", {{"event", "lock_reacquired"}});
}

std::optional<FileRunLock> FileRunLock::try_acquire(const std::filesystem::path& file,
                                                    const std::string& description,
                                                    std::string& holder) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw Error(ErrorKind::io, fmt::format("cannot open the run lock file {}: {}",
                                               file.string(), std::strerror(errno)));
    }
    FileRunLock lock(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (err != EWOULDBLOCK) {
            throw Error(ErrorKind::io, fmt::format("cannot lock the run lock file {}: {}",
                                                   file.string(), std::strerror(err)));
        }
        auto text = read_file_if_exists(file);
        holder =
            text && !text->empty() ? *text : "another process (lock file " + file.string() + ")";
        while (!holder.empty() && holder.back() == '\n') {
            holder.pop_back();
        }
        return std::nullopt;
    }
    // Who holds it, for the next run that finds it taken (best effort).
    const std::string line = description + "\n";
    if (::ftruncate(fd, 0) == 0) {
        [[maybe_unused]] const ssize_t written = ::pwrite(fd, line.data(), line.size(), 0);
    }
    return lock;
}

FileRunLock::~FileRunLock() {
    if (fd_ >= 0) {
        ::close(fd_);  // releases the flock
    }
}

PipelineLock PipelineLock::try_acquire(const Config& config, const std::string& application_name,
                                       std::string& holder) {
    PipelineLock lock;
    if (config.destination.kind == DestinationKind::snowflake) {
        lock.file_ =
            FileRunLock::try_acquire(config.checkpoint_dir / (config.pipeline_name + ".lock"),
                                     fmt::format("{} pid {} since {}", application_name, ::getpid(),
                                                 format_timestamp(now_utc())),
                                     holder);
    } else {
        lock.advisory_ = RunLock::try_acquire(config.destination.url, config.pipeline_name,
                                              application_name, holder);
    }
    return lock;
}

}  // namespace pipeline
