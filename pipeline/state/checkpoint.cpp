// pipeline/state/checkpoint.cpp: checkpoint JSON and its store.
#include "pipeline/state/checkpoint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "pipeline/core/error.hpp"
#include "pipeline/state/atomic_file.hpp"

namespace pipeline {

namespace {

using Json = nlohmann::json;

nlohmann::ordered_json open_transaction_json(const OpenTransaction& t) {
    nlohmann::ordered_json j;
    j["pid"] = t.pid;
    j["xid"] = t.xid ? nlohmann::ordered_json(*t.xid) : nlohmann::ordered_json(nullptr);
    j["started"] = t.started ? nlohmann::ordered_json(format_timestamp(*t.started))
                             : nlohmann::ordered_json(nullptr);
    j["state"] = t.state;
    j["application"] = t.application;
    return j;
}

// j[key] when it is a string / a bool / a whole number, else `fallback`
// (never throws on the wrong type, unlike Json::value).
std::string string_in(const Json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
bool bool_in(const Json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() && it->get<bool>();
}
std::optional<Xid8> xid_in(const Json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? std::optional(it->get<Xid8>())
                                                     : std::nullopt;
}

std::optional<Timestamp> timestamp_in(const Json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
        return std::nullopt;
    }
    return parse_timestamp(it->get_ref<const std::string&>(), OffsetRule::required);
}

// The "unseen" object; nullopt with `why` when any part of it is unreadable.
std::optional<Unseen> parse_unseen(const Json& j, std::string& why) {
    Unseen out;
    const auto xid_from = xid_in(j, "xid_from");
    if (!xid_from || !j.contains("xids") || !j["xids"].is_array()) {
        why = "unseen: xid_from or xids missing or of the wrong type";
        return std::nullopt;
    }
    out.xid_from = *xid_from;
    for (const Json& xid : j["xids"]) {
        if (!xid.is_number_unsigned()) {
            why = "unseen: an xid is not a whole number";
            return std::nullopt;
        }
        out.xids.push_back(xid.get<Xid8>());
    }
    std::sort(out.xids.begin(), out.xids.end());
    return out;
}

// The "hold_back" object; nullopt with `why` when any part of it is unreadable.
std::optional<HoldBack> parse_hold_back(const Json& j, std::string& why) {
    HoldBack out;
    const auto mode = hold_back_mode_named(string_in(j, "mode"));
    const auto floor = timestamp_in(j, "floor");
    if (!mode || !floor) {
        why = "hold_back: mode or floor missing or of the wrong type";
        return std::nullopt;
    }
    out.mode = *mode;
    out.floor = *floor;
    out.capped = bool_in(j, "capped");
    if (auto waiting = j.find("waiting"); waiting != j.end() && waiting->is_array()) {
        for (const Json& w : *waiting) {
            if (!w.is_object()) {
                continue;  // for people only: a damaged entry is just not shown
            }
            OpenTransaction t;
            const auto pid = w.find("pid");
            t.pid = pid != w.end() && pid->is_number_integer() && pid->get<std::int64_t>() >= 0 &&
                            pid->get<std::int64_t>() <= INT32_MAX
                        ? static_cast<int>(pid->get<std::int64_t>())
                        : 0;
            t.xid = xid_in(w, "xid");
            t.started = timestamp_in(w, "started");
            t.state = string_in(w, "state");
            t.application = string_in(w, "application");
            out.waiting.push_back(std::move(t));
        }
    }
    return out;
}

}  // namespace

std::optional<int> checkpoint_version_of(std::string_view text) {
    const Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
        return std::nullopt;
    }
    auto it = doc.find("version");
    return it != doc.end() && it->is_number_integer() ? it->get<int>() : 1;
}

std::optional<CheckpointState> parse_checkpoint(std::string_view text, std::string& why) {
    const Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
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
    state.saved_at = timestamp_in(doc, "saved_at").value_or(Timestamp{});
    if (auto pipeline = doc.find("pipeline"); pipeline != doc.end() && pipeline->is_string()) {
        state.pipeline = pipeline->get<std::string>();
    }
    state.version = checkpoint_version_of(text).value_or(1);
    if (auto position = doc.find("position"); position != doc.end() && !position->is_null()) {
        if (!position->is_number_integer()) {
            why = "position is not a whole number";
            return std::nullopt;
        }
        state.position = position->get<std::int64_t>();
    }
    if (auto marks = doc.find("positions"); marks != doc.end() && marks->is_array()) {
        // For the hold-back only: a damaged entry is dropped (the floor then reaches further).
        for (const Json& m : *marks) {
            if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_number_integer()) {
                if (auto at =
                        parse_timestamp(m[0].get_ref<const std::string&>(), OffsetRule::required)) {
                    state.positions.push_back({*at, m[1].get<std::int64_t>()});
                }
            }
        }
    }
    // Either part unreadable: the next window falls back to reaching back the
    // whole cap for every transaction (hold_back_unreadable).
    std::string part_why;
    if (auto unseen = doc.find("unseen"); unseen != doc.end() && !unseen->is_null()) {
        state.unseen = unseen->is_object() ? parse_unseen(*unseen, part_why) : std::nullopt;
        if (!state.unseen) {
            state.hold_back_unreadable = unseen->is_object() ? part_why : "unseen: not an object";
        }
    }
    if (auto hold = doc.find("hold_back"); hold != doc.end() && !hold->is_null()) {
        state.hold_back = hold->is_object() ? parse_hold_back(*hold, part_why) : std::nullopt;
        if (!state.hold_back) {
            state.hold_back_unreadable = hold->is_object() ? part_why : "hold_back: not an object";
        }
    }
    if (state.hold_back_unreadable) {
        state.unseen.reset();
        state.hold_back.reset();
    }
    return state;
}

std::string format_checkpoint(const CheckpointState& state) {
    nlohmann::ordered_json doc;
    doc["version"] = checkpoint_version;
    doc["watermark"] = format_timestamp(state.watermark);
    doc["saved_at"] = format_timestamp(state.saved_at);
    doc["pipeline"] = state.pipeline;
    if (state.position) {
        doc["position"] = *state.position;
        nlohmann::ordered_json marks = nlohmann::ordered_json::array();
        for (const PositionMark& m : state.positions) {
            marks.push_back({format_timestamp(m.at), m.position});
        }
        doc["positions"] = std::move(marks);
    }
    if (state.unseen) {
        nlohmann::ordered_json unseen;
        unseen["xid_from"] = state.unseen->xid_from;
        unseen["xids"] = state.unseen->xids;
        doc["unseen"] = std::move(unseen);
    } else {
        doc["unseen"] = nullptr;
    }
    if (state.hold_back) {
        const HoldBack& h = *state.hold_back;
        nlohmann::ordered_json hold;
        hold["mode"] = to_string(h.mode);
        hold["floor"] = format_timestamp(h.floor);
        hold["capped"] = h.capped;
        nlohmann::ordered_json waiting = nlohmann::ordered_json::array();
        for (const OpenTransaction& t : h.waiting) {
            waiting.push_back(open_transaction_json(t));
        }
        hold["waiting"] = std::move(waiting);
        doc["hold_back"] = std::move(hold);
    } else {
        doc["hold_back"] = nullptr;
    }
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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
    if (const auto version = checkpoint_version_of(*text);
        version && *version > checkpoint_version) {
        throw Error(ErrorKind::io,
                    fmt::format("checkpoint {} has version {}, newer than the versions 1-{} this "
                                "orders-pipeline reads; it was left as it is",
                                path_.string(), *version, checkpoint_version),
                    {}, {}, "a newer orders-pipeline wrote it: run that version (or newer) again");
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
                           const std::optional<NextWindow>& next,
                           const std::function<void()>& before_rename) const {
    CheckpointState state;
    state.watermark = watermark;
    state.saved_at = now;
    if (next) {
        state.unseen = next->unseen;
        state.hold_back = next->hold_back;
    }
    save_state(std::move(state), before_rename);
}

void CheckpointStore::save_state(CheckpointState state,
                                 const std::function<void()>& before_rename) const {
    ensure_directory(dir_, "checkpoint");
    state.pipeline = pipeline_;
    write_file_atomically(path_, format_checkpoint(state), before_rename);
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
