// pipeline/runtime/logging.cpp: spdlog with a bare "%v" pattern; the JSON is built here.
#include "pipeline/runtime/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "pipeline/core/timestamp.hpp"

namespace pipeline {

namespace {

struct LogContext {
    std::mutex mutex;
    std::shared_ptr<spdlog::logger> logger;
    std::string run_id;
    std::string pipeline;
    std::string environment;
};

LogContext& context() {
    static LogContext ctx;
    return ctx;
}

spdlog::level::level_enum to_spdlog(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return spdlog::level::debug;
        case LogLevel::info:
            return spdlog::level::info;
        case LogLevel::warning:
            return spdlog::level::warn;
        case LogLevel::error:
            return spdlog::level::err;
    }
    return spdlog::level::info;
}

}  // namespace

void init_logging(LogLevel level, spdlog::sink_ptr sink) {
    auto& ctx = context();
    std::lock_guard lock(ctx.mutex);
    if (!sink) {
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    }
    ctx.logger = std::make_shared<spdlog::logger>("orders-pipeline", std::move(sink));
    ctx.logger->set_pattern("%v");
    ctx.logger->set_level(to_spdlog(level));
    ctx.logger->flush_on(spdlog::level::trace);
}

void set_log_context(std::string run_id, std::string pipeline, std::string environment) {
    auto& ctx = context();
    std::lock_guard lock(ctx.mutex);
    ctx.run_id = std::move(run_id);
    ctx.pipeline = std::move(pipeline);
    ctx.environment = std::move(environment);
}

void log_event(LogLevel level, std::string_view msg, const LogFields& fields) {
    try {
        auto& ctx = context();
        std::lock_guard lock(ctx.mutex);
        if (!ctx.logger) {
            ctx.logger = std::make_shared<spdlog::logger>(
                "orders-pipeline", std::make_shared<spdlog::sinks::stderr_sink_mt>());
            ctx.logger->set_pattern("%v");
        }
        if (!ctx.logger->should_log(to_spdlog(level))) {
            return;
        }
        LogFields line;
        line["ts"] = format_timestamp(now_utc());
        line["level"] = to_string(level);
        line["msg"] = msg;
        line["run_id"] = ctx.run_id;
        line["pipeline"] = ctx.pipeline;
        line["environment"] = ctx.environment;
        if (fields.is_object()) {
            for (const auto& [key, value] : fields.items()) {
                line[key] = value;
            }
        }
        ctx.logger->log(to_spdlog(level), "{}",
                        line.dump(-1, ' ', false, LogFields::error_handler_t::replace));
    } catch (...) {  // NOLINT(bugprone-empty-catch): logging must never end a run
    }
}

}  // namespace pipeline
