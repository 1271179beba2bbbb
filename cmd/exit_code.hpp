// cmd/exit_code.hpp: the process exit codes, in one place (README "Exit codes").
#pragma once

#include "pipeline/core/error.hpp"

namespace cmd {

enum class ExitCode : int {
    success = 0,
    run_failed = 1,
    usage = 2,
    config = 3,
    lock_held = 4,
    cancelled = 5,
    differences = 6,  ///< verify found differences, or freshness found the SLA missed
};

/// The exit code for an error that ended a run.
inline ExitCode exit_code_for(pipeline::ErrorKind kind) {
    switch (kind) {
        case pipeline::ErrorKind::config:
            return ExitCode::config;
        case pipeline::ErrorKind::lock_held:
            return ExitCode::lock_held;
        case pipeline::ErrorKind::cancelled:
            return ExitCode::cancelled;
        default:
            return ExitCode::run_failed;
    }
}

inline int to_int(ExitCode code) {
    return static_cast<int>(code);
}

}  // namespace cmd
