// pipeline/runtime/fail_point.cpp: parsing and firing fail points.
#include "pipeline/runtime/fail_point.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <thread>
#include <utility>

#include "pipeline/core/error.hpp"
#include "pipeline/runtime/logging.hpp"

namespace pipeline {

namespace {

constexpr std::array<std::pair<std::string_view, FailSite>, 8> site_names = {{
    {"after_extract", FailSite::after_extract},
    {"after_probe", FailSite::after_probe},
    {"after_stage", FailSite::after_stage},
    {"after_merge", FailSite::after_merge},
    {"after_commit", FailSite::after_commit},
    {"before_checkpoint", FailSite::before_checkpoint},
    {"checkpoint_before_rename", FailSite::checkpoint_before_rename},
    {"before_final_record", FailSite::before_final_record},
}};

bool is_batch_site(FailSite site) {
    return site == FailSite::after_extract || site == FailSite::after_probe ||
           site == FailSite::after_stage || site == FailSite::after_merge ||
           site == FailSite::after_commit;
}

std::optional<int> parse_positive(std::string_view text) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty() || value < 0) {
        return std::nullopt;
    }
    return value;
}

std::optional<FailPointSpec> parse_one(std::string_view item, std::string& why) {
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
        why = fmt::format("'{}' has no '=action'", item);
        return std::nullopt;
    }
    std::string_view where = item.substr(0, eq);
    const std::string_view action = item.substr(eq + 1);
    FailPointSpec spec;
    if (const std::size_t colon = where.find(':'); colon != std::string_view::npos) {
        spec.batch = parse_positive(where.substr(colon + 1));
        if (!spec.batch || *spec.batch < 1) {
            why = fmt::format("'{}': the batch number must be a whole number >= 1", item);
            return std::nullopt;
        }
        where = where.substr(0, colon);
    }
    bool found = false;
    for (const auto& [name, site] : site_names) {
        if (where == name) {
            spec.site = site;
            found = true;
        }
    }
    if (!found) {
        why = fmt::format(
            "'{}' is not a fail point (known: after_extract, after_probe, after_stage, "
            "after_merge, after_commit, before_checkpoint, "
            "checkpoint_before_rename, before_final_record)",
            where);
        return std::nullopt;
    }
    if (spec.batch && !is_batch_site(spec.site)) {
        why = fmt::format("'{}' does not take a batch number", where);
        return std::nullopt;
    }
    if (action == "kill") {
        spec.action = FailAction::kill;
    } else if (action == "error") {
        spec.action = FailAction::error;
    } else if (action.starts_with("sleep:")) {
        auto ms = parse_positive(action.substr(6));
        if (!ms) {
            why = fmt::format("'{}': sleep needs milliseconds, e.g. sleep:2000", item);
            return std::nullopt;
        }
        spec.action = FailAction::sleep;
        spec.sleep_ms = *ms;
    } else {
        why = fmt::format("'{}': the action must be kill, error or sleep:<ms>", item);
        return std::nullopt;
    }
    return spec;
}

}  // namespace

std::string_view to_string(FailSite site) {
    for (const auto& [name, s] : site_names) {
        if (s == site) {
            return name;
        }
    }
    return "unknown";
}

std::optional<std::vector<FailPointSpec>> parse_fail_points(std::string_view text,
                                                            std::string& why) {
    std::vector<FailPointSpec> specs;
    if (text.empty()) {
        return specs;
    }
    for (;;) {
        const std::size_t comma = text.find(',');
        auto spec = parse_one(text.substr(0, comma), why);
        if (!spec) {
            return std::nullopt;
        }
        specs.push_back(*spec);
        if (comma == std::string_view::npos) {
            return specs;
        }
        text = text.substr(comma + 1);
    }
}

void FailPoints::hit(FailSite site, int batch) const {
    for (const FailPointSpec& spec : specs_) {
        if (spec.site != site || (spec.batch && *spec.batch != batch)) {
            continue;
        }
        const std::string where = is_batch_site(site) ? fmt::format("{}:{}", to_string(site), batch)
                                                      : std::string(to_string(site));
        switch (spec.action) {
            case FailAction::kill:
                log_warning("fail point: killing the process",
                            {{"event", "fail_point"}, {"point", where}, {"action", "kill"}});
                spdlog::default_logger()->flush();
                std::raise(SIGKILL);
                break;
            case FailAction::error:
                throw Error(ErrorKind::internal, fmt::format("fail point {} reached", where));
            case FailAction::sleep:
                log_warning("fail point: pausing", {{"event", "fail_point"},
                                                    {"point", where},
                                                    {"action", "sleep"},
                                                    {"sleep_ms", spec.sleep_ms}});
                spdlog::default_logger()->flush();
                std::this_thread::sleep_for(std::chrono::milliseconds(spec.sleep_ms));
                break;
        }
    }
}

}  // namespace pipeline
