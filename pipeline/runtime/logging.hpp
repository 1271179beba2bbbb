// pipeline/runtime/logging.hpp: JSON-lines logs with run context (spec §9).
#pragma once

#include <spdlog/common.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "pipeline/config/config.hpp"

namespace pipeline {

/// Fields of one log event, in the order given.
using LogFields = nlohmann::ordered_json;

/// Sets up the process logger: one JSON object per line on stderr (or on
/// `sink` when given, for tests), at `level` and above.
void init_logging(LogLevel level, spdlog::sink_ptr sink = nullptr);

/// Sets the run_id / pipeline / environment carried by every line from now on.
void set_log_context(std::string run_id, std::string pipeline, std::string environment);

/// Writes {"ts", "level", "msg", "run_id", "pipeline", "environment", ...fields}.
/// Never throws (a logging failure must not end a run).
void log_event(LogLevel level, std::string_view msg, const LogFields& fields = LogFields::object());

inline void log_debug(std::string_view msg, const LogFields& f = LogFields::object()) {
    log_event(LogLevel::debug, msg, f);
}
inline void log_info(std::string_view msg, const LogFields& f = LogFields::object()) {
    log_event(LogLevel::info, msg, f);
}
inline void log_warning(std::string_view msg, const LogFields& f = LogFields::object()) {
    log_event(LogLevel::warning, msg, f);
}
inline void log_error(std::string_view msg, const LogFields& f = LogFields::object()) {
    log_event(LogLevel::error, msg, f);
}

}  // namespace pipeline
