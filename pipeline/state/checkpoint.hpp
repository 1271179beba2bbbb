// pipeline/state/checkpoint.hpp: the watermark file and its hold-back (spec §8).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/core/timestamp.hpp"
#include "pipeline/source/commit_window.hpp"

namespace pipeline {

/// The version of the checkpoint files this build writes. Version 1 (no
/// "version" key) held only the watermark; version 2 adds the hold-back.
inline constexpr int checkpoint_version = 2;

/// A declared job with an integer cursor: where its position was at a look.
struct PositionMark {
    Timestamp at;
    std::int64_t position = 0;
    bool operator==(const PositionMark&) const = default;
};

/// The content of a checkpoint: the source's clock when the last fully
/// loaded window began, and what the next window must reach back for.
struct CheckpointState {
    Timestamp watermark;
    Timestamp saved_at;
    std::string pipeline;
    /// The transactions that window's snapshot could not see (nullopt: not
    /// known, e.g. a version 1 file or `checkpoint set`: the whole overlap is read).
    std::optional<Unseen> unseen = std::nullopt;
    /// How far back the next window reaches for transactions that were open
    /// (nullopt: none was).
    std::optional<HoldBack> hold_back = std::nullopt;
    /// Set when the file's hold-back could not be read: the next window then
    /// reaches back as far as the cap allows, for every transaction (safe,
    /// slower once), and the run says so.
    std::optional<std::string> hold_back_unreadable = std::nullopt;
    int version = checkpoint_version;  ///< as read (1 for a file of an older build)
    /// Integer cursors only (declared jobs): the largest value loaded (the
    /// next window reads above it), and recent positions by the source's
    /// clock, so that a hold-back's floor time can be turned into a position.
    std::optional<std::int64_t> position = std::nullopt;
    std::vector<PositionMark> positions = {};
};

/// Parses checkpoint JSON. nullopt (with `why` set) when it is not JSON, not
/// an object, or its watermark is missing, not a string, unparseable or
/// without a UTC offset (a corrupt file). A readable watermark with an
/// unreadable "hold_back" is not corrupt: see hold_back_unreadable. Version
/// 1 files are read as having no hold-back. Pure; never throws.
std::optional<CheckpointState> parse_checkpoint(std::string_view text, std::string& why);

/// `{"version": 2, "watermark": ISO, "saved_at": ISO, "pipeline": name,
/// "unseen": null | {...}, "hold_back": null | {...}}` plus a newline.
std::string format_checkpoint(const CheckpointState& state);

/// The version a checkpoint text declares (1 when it has none), or nullopt
/// when it is not a JSON object. Pure.
std::optional<int> checkpoint_version_of(std::string_view text);

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

    /// Reads the checkpoint. A file of a newer version than this build
    /// understands is an Error(io) (upgrade the binary; nothing is touched).
    /// A corrupt file is renamed to
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
              const std::optional<NextWindow>& next = std::nullopt,
              const std::function<void()>& before_rename = {}) const;
    /// The same with a whole state (an integer cursor's position and history).
    void save_state(CheckpointState state, const std::function<void()>& before_rename = {}) const;

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
