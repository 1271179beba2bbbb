// pipeline/state/checkpoint.hpp: the watermark file (spec §8).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/core/timestamp.hpp"

namespace pipeline {

/// The content of a checkpoint: the upper bound of the last fully loaded window.
struct CheckpointState {
    Timestamp watermark;
    Timestamp saved_at;
    std::string pipeline;
};

/// Parses checkpoint JSON. nullopt (with `why` set) when it is not JSON, not
/// an object, or its watermark is missing, not a string, unparseable or
/// without a UTC offset. Pure; never throws.
std::optional<CheckpointState> parse_checkpoint(std::string_view text, std::string& why);

/// `{"watermark": ISO, "saved_at": ISO, "pipeline": name}` plus a newline.
std::string format_checkpoint(const CheckpointState& state);

/// What loading found. `state` is empty for a missing or corrupt file; for a
/// corrupt one `warning` says what was wrong and where the file was moved.
struct CheckpointLoad {
    std::optional<CheckpointState> state;
    std::optional<std::string> warning;
};

/// The checkpoint file `<dir>/<pipeline>.checkpoint.json`.
class CheckpointStore {
public:
    CheckpointStore(std::filesystem::path dir, std::string pipeline);

    /// Reads the checkpoint. A corrupt file is renamed to
    /// `<file>.corrupt.<YYYYmmdd_HHMMSS>` (UTC of `now`; never deleted, a
    /// numeric suffix avoids clobbering) and reported in the warning. Throws
    /// Error(io) when the file exists but cannot be read or moved.
    CheckpointLoad load(Timestamp now) const;

    /// Reads the checkpoint without touching the file: a corrupt one is only
    /// reported (`warning` says why), not moved. For read-only commands.
    /// Throws Error(io) when the file exists but cannot be read.
    CheckpointLoad peek() const;

    /// Atomically replaces the checkpoint (see write_file_atomically). The
    /// directory is created if missing; temporary files left by a run killed
    /// mid-write are removed. `before_rename` is a fail-point hook.
    void save(Timestamp watermark, Timestamp now,
              const std::function<void()>& before_rename = {}) const;

    /// Moves the checkpoint aside to `<file>.reset.<YYYYmmdd_HHMMSS>` (never
    /// deleted), so the next run starts as if none existed. Returns where it
    /// went, or nullopt when there was no checkpoint. Throws Error(io).
    std::optional<std::filesystem::path> reset(Timestamp now) const;

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    /// Renames the file to a free `<file>.<kind>.<YYYYmmdd_HHMMSS>[.N]` (then
    /// syncs the directory) and returns that name. Throws Error(io)
    /// "<failure> to <name>: <reason>" when the rename fails.
    std::filesystem::path move_aside(std::string_view kind, Timestamp now,
                                     std::string_view failure) const;

    std::filesystem::path dir_;
    std::string pipeline_;
    std::filesystem::path path_;
};

}  // namespace pipeline
