// pipeline/state/run_lock.hpp: one run at a time per pipeline, via a PostgreSQL advisory lock (spec
// §1).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "pipeline/config/config.hpp"
#include "pipeline/runtime/pg_connection.hpp"

namespace pipeline {

/// A session-level advisory lock keyed by the pipeline name, held on its own
/// connection for the whole run. The lock is released when this object is
/// destroyed, or by the server when the session dies (a crashed run never
/// leaves a stale lock).
class RunLock {
public:
    /// Tries once, without waiting. Returns the held lock, or nullopt with
    /// `holder` describing who holds it (pid, application_name with the other
    /// run's id, client address, since when) when PostgreSQL can tell.
    static std::optional<RunLock> try_acquire(const Secret& url, const std::string& pipeline,
                                              const std::string& application_name,
                                              std::string& holder);

    /// Checks that the lock's session is alive. If it was lost (the server
    /// then released the lock), reconnects and takes the lock again; throws
    /// Error(lock_held) if another run took it meanwhile, or the connection
    /// error (transient, so the caller may retry) if the server is away.
    void ensure_held();

    RunLock(RunLock&&) noexcept = default;
    RunLock& operator=(RunLock&&) noexcept = default;
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;
    ~RunLock() = default;

private:
    struct Key {
        Secret url;
        std::string pipeline;
        std::string application_name;
    };
    RunLock(PgConnection conn, Key key) : conn_(std::move(conn)), key_(std::move(key)) {}
    /// Connects and tries the lock; nullopt (and `holder`) when it is taken.
    static std::optional<PgConnection> try_lock(const Key& key, std::string& holder);

    std::optional<PgConnection> conn_;
    Key key_;
};

/// An exclusive flock(2) on a file, for destinations without advisory locks
/// (Snowflake). The file sits beside the checkpoint it protects; the kernel
/// releases the lock when the process dies, so a crashed run never leaves a
/// stale lock. The holder's description is written into the file.
class FileRunLock {
public:
    /// Tries once, without waiting. nullopt with `holder` (the other run's
    /// description from the file) when another process holds it. Throws
    /// Error(io) when the file cannot be created.
    static std::optional<FileRunLock> try_acquire(const std::filesystem::path& file,
                                                  const std::string& description,
                                                  std::string& holder);

    FileRunLock(FileRunLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    FileRunLock& operator=(FileRunLock&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    FileRunLock(const FileRunLock&) = delete;
    FileRunLock& operator=(const FileRunLock&) = delete;
    ~FileRunLock();

private:
    explicit FileRunLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

/// The pipeline's run lock, whichever kind the destination uses: the
/// advisory lock on a PostgreSQL warehouse; for Snowflake, which has none,
/// an flock on `<CHECKPOINT_DIR>/<PIPELINE_NAME>.lock` beside the checkpoint.
class PipelineLock {
public:
    /// Tries once; not held() (with `holder` set) when another run has it.
    static PipelineLock try_acquire(const Config& config, const std::string& application_name,
                                    std::string& holder);
    bool held() const noexcept { return advisory_.has_value() || file_.has_value(); }
    /// See RunLock::ensure_held (a file lock cannot be lost).
    void ensure_held() {
        if (advisory_) {
            advisory_->ensure_held();
        }
    }

private:
    std::optional<RunLock> advisory_;
    std::optional<FileRunLock> file_;
};

/// The advisory lock's first key ("OP"); the second is hashtext(pipeline name).
inline constexpr int run_lock_class_id = 0x4f50;

}  // namespace pipeline
