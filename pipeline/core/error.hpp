// pipeline/core/error.hpp: the one exception type that ends a run, and its classification.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace pipeline {

/// What kind of failure ended the run. `main` maps each kind to one exit code.
enum class ErrorKind { config, lock_held, source, destination, io, cancelled, internal };

/// The text of an ErrorKind, as it appears in logs ("source", "destination", ...).
std::string_view to_string(ErrorKind kind);

/// Where an Error was raised: file and line of the throw. (A stand-in for
/// std::source_location, which clang 14 on libstdc++ 12 lacks; the builtins
/// are evaluated at the caller because they are default arguments.)
struct SourceLocation {
    const char* file = "";
    int line = 0;
    static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                            int line = __builtin_LINE()) noexcept {
        return {file, line};
    }
};

/// The single exception type for failures that end a run.
///
/// The tree is deliberately flat (as in libpqxx's except.hxx): callers do not
/// catch by subclass, they *query* the error. `kind()` decides the exit code,
/// `transient()` decides whether a retry may help, `sqlstate()` carries the
/// server's code when there is one, `statement_label()` names the statement
/// without any values (e.g. "[MERGE silver.orders]"), and `hint()` says what an
/// operator should do. Messages never contain secrets: connection strings are
/// only ever printed through `Secret`/redaction.
class Error : public std::runtime_error {
public:
    explicit Error(ErrorKind kind, const std::string& message, std::string sqlstate = {},
                   std::string statement_label = {}, std::string hint = {},
                   SourceLocation location = SourceLocation::current());

    ErrorKind kind() const noexcept { return kind_; }
    const std::string& sqlstate() const noexcept { return sqlstate_; }
    const std::string& statement_label() const noexcept { return statement_label_; }
    const std::string& hint() const noexcept { return hint_; }
    const SourceLocation& location() const noexcept { return location_; }
    /// True when retrying the same work may succeed (lost connection, deadlock, ...).
    bool transient() const noexcept;

private:
    ErrorKind kind_;
    std::string sqlstate_;
    std::string statement_label_;
    std::string hint_;
    SourceLocation location_;
};

/// True for SQLSTATEs that a retry can heal: class 08 (connection), 40001
/// (serialization), 40P01 (deadlock), 57P01-57P03 (admin shutdown, crash,
/// cannot connect now) and 53300 (too many connections).
bool is_transient_sqlstate(std::string_view sqlstate) noexcept;

}  // namespace pipeline
