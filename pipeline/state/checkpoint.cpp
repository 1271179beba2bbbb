// pipeline/state/checkpoint.cpp: checkpoint JSON and its store.
#include "pipeline/state/checkpoint.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "pipeline/core/error.hpp"
#include "pipeline/state/atomic_file.hpp"

namespace pipeline {

std::optional<CheckpointState> parse_checkpoint(std::string_view text, std::string& why) {
    const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        why = "not valid JSON";
        return std::nullopt;
    }
    if (!doc.is_object()) {
        why = "not a JSON object";
        return std::nullopt;
    }
    auto it = doc.find("watermark");
    if (it == doc.end() || !it->is_string()) {
        why = "no \"watermark\" string";
        return std::nullopt;
    }
    const auto& watermark_text = it->get_ref<const std::string&>();
    auto watermark = parse_timestamp(watermark_text, OffsetRule::required);
    if (!watermark) {
        why = "watermark is not an ISO-8601 timestamp with a UTC offset";
        return std::nullopt;
    }
    CheckpointState state;
    state.watermark = *watermark;
    if (auto saved = doc.find("saved_at"); saved != doc.end() && saved->is_string()) {
        state.saved_at = parse_timestamp(saved->get_ref<const std::string&>(), OffsetRule::required)
                             .value_or(Timestamp{});
    }
    if (auto pipeline = doc.find("pipeline"); pipeline != doc.end() && pipeline->is_string()) {
        state.pipeline = pipeline->get<std::string>();
    }
    return state;
}

std::string format_checkpoint(const CheckpointState& state) {
    nlohmann::ordered_json doc;
    doc["watermark"] = format_timestamp(state.watermark);
    doc["saved_at"] = format_timestamp(state.saved_at);
    doc["pipeline"] = state.pipeline;
    return doc.dump() + "\n";
}

CheckpointStore::CheckpointStore(std::filesystem::path dir, std::string pipeline)
    : dir_(std::move(dir)),
      pipeline_(std::move(pipeline)),
      path_(dir_ / (pipeline_ + ".checkpoint.json")) {}

CheckpointLoad CheckpointStore::load(Timestamp now) const {
    CheckpointLoad loaded = peek();
    if (!loaded.warning) {
        return loaded;
    }
    const std::string why = std::move(*loaded.warning);
    const std::filesystem::path archive =
        move_aside("corrupt", now,
                   fmt::format("checkpoint {} is corrupt ({}) and cannot be moved aside",
                               path_.string(), why));
    return {std::nullopt,
            fmt::format("checkpoint {} is corrupt ({}); moved to {}; starting as if no checkpoint "
                        "existed",
                        path_.string(), why, archive.string())};
}

CheckpointLoad CheckpointStore::peek() const {
    const auto text = read_file_if_exists(path_);
    if (!text) {
        return {};
    }
    std::string why;
    auto state = parse_checkpoint(*text, why);
    if (state) {
        return {std::move(state), std::nullopt};
    }
    return {std::nullopt, std::move(why)};
}

std::filesystem::path CheckpointStore::move_aside(std::string_view kind, Timestamp now,
                                                  std::string_view failure) const {
    const UtcParts p = utc_parts(now);
    const std::string base =
        fmt::format("{}.{}.{:04d}{:02d}{:02d}_{:02d}{:02d}{:02d}", path_.string(), kind,
                    p.date.year, p.date.month, p.date.day, p.hour, p.minute, p.second);
    std::filesystem::path archive = base;
    for (int n = 1; std::filesystem::exists(archive); ++n) {
        archive = fmt::format("{}.{}", base, n);
    }
    std::error_code ec;
    std::filesystem::rename(path_, archive, ec);
    if (ec) {
        throw Error(ErrorKind::io,
                    fmt::format("{} to {}: {}", failure, archive.string(), ec.message()));
    }
    fsync_directory(dir_);
    return archive;
}

std::optional<std::filesystem::path> CheckpointStore::reset(Timestamp now) const {
    if (!std::filesystem::exists(path_)) {
        return std::nullopt;
    }
    return move_aside("reset", now, fmt::format("cannot move the checkpoint {}", path_.string()));
}

void CheckpointStore::save(Timestamp watermark, Timestamp now,
                           const std::function<void()>& before_rename) const {
    ensure_directory(dir_, "checkpoint");
    write_file_atomically(path_, format_checkpoint({watermark, now, pipeline_}), before_rename);
    // A run killed between writing its temporary file and the rename leaves
    // ".<name>.tmp.<pid>" behind; it never held anything the checkpoint lacks.
    const std::string stale_prefix = fmt::format(".{}.tmp.", path_.filename().string());
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
        if (entry.path().filename().string().starts_with(stale_prefix)) {
            std::filesystem::remove(entry.path(), ec);
        }
    }
}

}  // namespace pipeline
