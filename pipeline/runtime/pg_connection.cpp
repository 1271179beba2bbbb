// pipeline/runtime/pg_connection.cpp: connect, exec, COPY, and error translation.
#include "pipeline/runtime/pg_connection.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <vector>

#include "pipeline/config/config.hpp"

namespace pipeline {

namespace {

// What an operator should do for the common failure classes.
std::string hint_for(std::string_view sqlstate, std::string_view role) {
    if (sqlstate == "57014") {
        return "the statement ran into statement_timeout; see README 'Troubleshooting: statement "
               "timeout'";
    }
    if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
        sqlstate == "57P03") {
        return fmt::format(
            "the {} connection was lost or refused; check that the server is up "
            "and reachable, then rerun (the checkpoint has not moved, nothing is "
            "lost)",
            role == "SOURCE" ? "source" : "destination");
    }
    if (sqlstate == "28P01" || sqlstate == "28000") {
        return "authentication failed; check the user and password in the URL";
    }
    if (sqlstate == "42P01") {
        return "a table does not exist; check the *_SCHEMA/*_TABLE settings";
    }
    return {};
}

// libpq's message for the connection, without its trailing newline.
std::string connection_message(PGconn* conn) {
    std::string message = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
        message.pop_back();
    }
    return message;
}

bool succeeded(const PGresult* result) {
    const ExecStatusType status = PQresultStatus(result);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

}  // namespace

long long PgResult::affected_rows() const noexcept {
    if (!result_) {
        return 0;
    }
    const char* tuples = PQcmdTuples(result_.get());
    return (tuples != nullptr && *tuples != '\0') ? std::atoll(tuples) : 0;
}

PgConnection::PgConnection(const Secret& url, ErrorKind kind, std::string_view role,
                           std::string_view application_name)
    : kind_(kind), role_(role), endpoint_(describe_pg_target(url)) {
    const std::string app(application_name.substr(0, 63));
    const char* keywords[] = {"dbname",     "application_name", "connect_timeout",
                              "keepalives", "keepalives_idle",  nullptr};
    const char* values[] = {url.reveal().c_str(), app.c_str(), "10", "1", "30", nullptr};
    conn_.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
        const std::string reason = connection_message(conn_.get());
        // libpq's connection messages name host and user, never the password.
        throw Error(kind_, fmt::format("[{} {}] cannot connect: {}", role_, endpoint_, reason),
                    "08001", "[CONNECT]", hint_for("08001", role_));
    }
}

void PgConnection::fail(std::string_view label, const PGresult* result) const {
    std::string sqlstate;
    std::string message;
    if (result != nullptr) {
        if (const char* code = PQresultErrorField(result, PG_DIAG_SQLSTATE)) {
            sqlstate = code;
        }
        if (const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)) {
            message = primary;
        }
    }
    if (message.empty()) {
        message = connection_message(conn_.get());
    }
    if (sqlstate.empty() && (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK)) {
        sqlstate = "08006";  // connection failure: the server went away
    }
    const int pid = backend_pid();
    throw Error(kind_,
                fmt::format("[{} {} pid {}] {} failed [{}]: {}", role_, endpoint_, pid, label,
                            sqlstate.empty() ? "-----" : sqlstate, message),
                sqlstate, std::string(label), hint_for(sqlstate, role_));
}

PgResult PgConnection::check(PGresult* raw, std::string_view label, ExecStatusType expected) const {
    PgResultPtr result(raw);
    if (!result || PQresultStatus(result.get()) != expected) {
        fail(label, result.get());
    }
    return PgResult(std::move(result));
}

PgResult PgConnection::check_success(PGresult* raw, std::string_view label) const {
    PgResultPtr result(raw);
    if (!result || !succeeded(result.get())) {
        fail(label, result.get());
    }
    return PgResult(std::move(result));
}

PgResult PgConnection::exec(std::string_view sql, std::string_view label) {
    const std::string text(sql);
    return check_success(PQexec(conn_.get(), text.c_str()), label);
}

PgResult PgConnection::exec_params(std::string_view sql,
                                   std::span<const std::optional<std::string>> params,
                                   std::string_view label) {
    const std::string text(sql);
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p ? p->c_str() : nullptr);
    }
    return check_success(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(values.size()),
                                      nullptr, values.data(), nullptr, nullptr, 0),
                         label);
}

void PgConnection::send(std::string_view sql, std::string_view label) {
    const std::string text(sql);
    if (PQsendQuery(conn_.get(), text.c_str()) != 1) {
        fail(label, nullptr);
    }
}

PgResult PgConnection::receive(std::string_view label) {
    PGresult* first = PQgetResult(conn_.get());
    // One statement, one result; read to the end so the connection is idle again.
    while (PGresult* extra = PQgetResult(conn_.get())) {
        PQclear(extra);
    }
    return check_success(first, label);
}

void PgConnection::begin_copy(std::string_view sql, std::string_view label) {
    copy_label_ = label;
    const std::string text(sql);
    check(PQexec(conn_.get(), text.c_str()), label, PGRES_COPY_IN);
}

void PgConnection::put_copy_data(std::string_view bytes) {
    if (PQputCopyData(conn_.get(), bytes.data(), static_cast<int>(bytes.size())) != 1) {
        fail(copy_label_, nullptr);
    }
}

long long PgConnection::end_copy() {
    if (PQputCopyEnd(conn_.get(), nullptr) != 1) {
        fail(copy_label_, nullptr);
    }
    return finish_copy();
}

long long PgConnection::finish_copy() {
    long long rows = 0;
    bool failed = false;
    PgResultPtr failure;
    // Drain every result so the connection is ready for the next command.
    while (PGresult* raw = PQgetResult(conn_.get())) {
        PgResultPtr r(raw);
        if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) {
            rows = PgResult(std::move(r)).affected_rows();
        } else if (!failed) {
            failed = true;
            failure = std::move(r);
        }
    }
    if (failed) {
        fail(copy_label_, failure.get());
    }
    return rows;
}

void PgConnection::begin_copy_out(std::string_view sql, std::string_view label) {
    copy_label_ = label;
    const std::string text(sql);
    check(PQexec(conn_.get(), text.c_str()), label, PGRES_COPY_OUT);
}

std::optional<CopyLine> PgConnection::read_copy_line() {
    char* data = nullptr;
    const int length = PQgetCopyData(conn_.get(), &data, 0);
    if (length > 0) {
        return CopyLine{std::unique_ptr<char, CopyLineDeleter>(data), length};
    }
    if (length == -2) {
        fail(copy_label_, nullptr);
    }
    finish_copy();  // -1: the COPY is over; its result says how
    return std::nullopt;
}

std::string quote_literal(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') {
            out += "''";
        } else {
            out.push_back(c);
        }
    }
    out += "'";
    return out;
}

}  // namespace pipeline
