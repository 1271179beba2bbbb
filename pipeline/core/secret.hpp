// pipeline/core/secret.hpp: a value that must never be printed (passwords, keys, URLs with them).
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>

namespace pipeline {

/// Holds secret text. It has no implicit conversion to string and formats as
/// "***", so a Secret cannot reach a log line, an error or a run record by
/// accident; code that really needs the text calls `reveal()`, which is easy
/// to grep for.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string value) : value_(std::move(value)) {}

    const std::string& reveal() const noexcept { return value_; }
    bool empty() const noexcept { return value_.empty(); }

private:
    std::string value_;
};

}  // namespace pipeline

template <>
struct fmt::formatter<pipeline::Secret> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(const pipeline::Secret&, FormatContext& ctx) const {
        return fmt::formatter<std::string_view>::format("***", ctx);
    }
};
