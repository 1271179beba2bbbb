// pipeline/runtime/pg_connection.hpp: libpq RAII; every failure becomes a pipeline::Error.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pipeline/core/error.hpp"
#include "pipeline/core/secret.hpp"

namespace pipeline {

struct PgConnDeleter {
    void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
struct PgResultDeleter {
    void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

/// Frees a line returned by PQgetCopyData.
struct CopyLineDeleter {
    void operator()(char* line) const noexcept { PQfreemem(line); }
};

/// One line of a `COPY ... TO STDOUT`, owned: the row's bytes and its final '\n'.
struct CopyLine {
    std::unique_ptr<char, CopyLineDeleter> data;
    int length = 0;
};

/// A query result. Move-only; values are views valid while the result lives.
class PgResult {
public:
    PgResult() = default;
    explicit PgResult(PgResultPtr result) : result_(std::move(result)) {}

    int rows() const noexcept { return result_ ? PQntuples(result_.get()) : 0; }
    int columns() const noexcept { return result_ ? PQnfields(result_.get()) : 0; }
    bool is_null(int row, int column) const noexcept {
        return PQgetisnull(result_.get(), row, column) != 0;
    }
    /// The text of a value ("" for NULL; check is_null()).
    std::string_view value(int row, int column) const noexcept {
        return {PQgetvalue(result_.get(), row, column),
                static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
    }
    /// The value, or nullopt for NULL.
    std::optional<std::string_view> field(int row, int column) const noexcept {
        if (is_null(row, column)) {
            return std::nullopt;
        }
        return value(row, column);
    }
    /// A result column's type oid and type modifier.
    unsigned column_type(int column) const noexcept {
        return result_ ? PQftype(result_.get(), column) : 0;
    }
    int column_typmod(int column) const noexcept {
        return result_ ? PQfmod(result_.get(), column) : -1;
    }
    /// Rows affected, from the command tag (0 when it has none).
    long long affected_rows() const noexcept;

private:
    PgResultPtr result_;
};

/// One libpq session. Move-only (copy is deleted: two owners of a PGconn
/// would double-free it). Errors are thrown as Error of the connection's
/// kind (source or destination), tagged with the endpoint, the backend pid,
/// the statement label and the SQLSTATE; never with the URL.
class PgConnection {
public:
    /// Connects (10 s connect timeout, TCP keepalives) with
    /// `application_name`, so that pg_stat_activity shows who we are.
    /// `role` is "SOURCE" or "DEST" in messages.
    PgConnection(const Secret& url, ErrorKind kind, std::string_view role,
                 std::string_view application_name);
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;
    PgConnection(PgConnection&&) noexcept = default;
    PgConnection& operator=(PgConnection&&) noexcept = default;
    ~PgConnection() = default;

    /// Runs `sql` (no parameters; several statements allowed). `label`
    /// names it in errors, e.g. "[CREATE TABLE silver.orders]".
    PgResult exec(std::string_view sql, std::string_view label);

    /// Runs one statement with text parameters ($1, $2, ...; nullopt is NULL).
    PgResult exec_params(std::string_view sql, std::span<const std::optional<std::string>> params,
                         std::string_view label);

    /// Sends one statement without waiting for it (libpq's asynchronous
    /// mode); its result is then collected with receive(). Nothing else may
    /// run on the connection in between.
    void send(std::string_view sql, std::string_view label);
    /// Waits for the result of the statement sent by send(); throws like exec().
    PgResult receive(std::string_view label);

    /// Starts `COPY ... FROM STDIN`; then put_copy_data() ..., end_copy().
    void begin_copy(std::string_view sql, std::string_view label);
    void put_copy_data(std::string_view bytes);
    /// Finishes the COPY; returns the number of rows copied.
    long long end_copy();

    /// Starts `COPY ... TO STDOUT`; then read_copy_line() until it returns nullopt.
    void begin_copy_out(std::string_view sql, std::string_view label);
    /// The next line of the COPY; nullopt at its end, once the COPY's own
    /// result says it succeeded (it throws like exec() if not).
    std::optional<CopyLine> read_copy_line();

    /// True while the session is usable.
    bool ok() const noexcept { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }
    int backend_pid() const noexcept { return conn_ ? PQbackendPID(conn_.get()) : 0; }
    /// "host:port/dbname" for messages.
    const std::string& endpoint() const noexcept { return endpoint_; }

private:
    [[noreturn]] void fail(std::string_view label, const PGresult* result) const;
    /// Owns `raw`; throws unless its status is `expected`.
    PgResult check(PGresult* raw, std::string_view label, ExecStatusType expected) const;
    /// Owns `raw`; throws unless it is COMMAND_OK or TUPLES_OK.
    PgResult check_success(PGresult* raw, std::string_view label) const;
    /// Collects the results after a COPY's data; throws on a failed one; returns its rows.
    long long finish_copy();

    PgConnPtr conn_;
    ErrorKind kind_;
    std::string role_;
    std::string endpoint_;
    std::string copy_label_;
};

/// Quotes a string literal for SQL text (standard_conforming_strings on):
/// doubles single quotes; backslashes need nothing. Prefer parameters.
std::string quote_literal(std::string_view text);

}  // namespace pipeline
