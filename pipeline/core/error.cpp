// pipeline/core/error.cpp: Error and the transient-SQLSTATE table.
#include "pipeline/core/error.hpp"

#include <array>

namespace pipeline {

std::string_view to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::config:
            return "config";
        case ErrorKind::lock_held:
            return "lock_held";
        case ErrorKind::source:
            return "source";
        case ErrorKind::destination:
            return "destination";
        case ErrorKind::io:
            return "io";
        case ErrorKind::cancelled:
            return "cancelled";
        case ErrorKind::internal:
            return "internal";
    }
    return "internal";
}

Error::Error(ErrorKind kind, const std::string& message, std::string sqlstate,
             std::string statement_label, std::string hint, SourceLocation location)
    : std::runtime_error(message),
      kind_(kind),
      sqlstate_(std::move(sqlstate)),
      statement_label_(std::move(statement_label)),
      hint_(std::move(hint)),
      location_(location) {}

bool Error::transient() const noexcept {
    return is_transient_sqlstate(sqlstate_);
}

bool is_transient_sqlstate(std::string_view sqlstate) noexcept {
    if (sqlstate.size() != 5) {
        return false;
    }
    if (sqlstate.starts_with("08")) {
        return true;  // connection exception, whatever the subclass
    }
    static constexpr std::array<std::string_view, 6> transient_codes = {"40001", "40P01", "57P01",
                                                                        "57P02", "57P03", "53300"};
    for (auto code : transient_codes) {
        if (sqlstate == code) {
            return true;
        }
    }
    return false;
}

}  // namespace pipeline
