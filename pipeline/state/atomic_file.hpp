// pipeline/state/atomic_file.hpp: crash-safe whole-file replacement and small POSIX helpers.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pipeline {

/// Replaces `path` with `bytes` so that after a crash the file holds either
/// the old or the new content, never a mix: write a temporary file in the
/// same directory, fsync it, rename it over `path`, fsync the directory.
/// Throws Error(io) naming the path and errno text on any failure; the
/// temporary file is removed on failure. `before_rename`, when given, runs
/// between the fsync of the temporary file and the rename (a fail point).
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes,
                           const std::function<void()>& before_rename = {});

/// fsyncs a directory so that entries created or renamed in it are durable.
void fsync_directory(const std::filesystem::path& dir);

/// Creates `dir` (and parents) if missing; throws Error(io) with a clear message otherwise.
void ensure_directory(const std::filesystem::path& dir, std::string_view purpose);

/// The whole content of a file; nullopt if it does not exist. Throws Error(io)
/// when it exists but cannot be read.
std::optional<std::string> read_file_if_exists(const std::filesystem::path& path);

}  // namespace pipeline
