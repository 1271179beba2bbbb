// tests/emulator/snowflake_emulator.cpp: a strict Snowflake SQL API v2 emulator for the tests.
//
// Real HTTPS (OpenSSL) on 127.0.0.1, HTTP/1.1 with keep-alive. Every request
// must carry a key-pair JWT that verifies against the registered public key
// with the documented claims. Statements run on a PostgreSQL database after
// translating the few Snowflake-isms the loader uses (TRANSIENT, NUMBER,
// TIMESTAMP_TZ, VARCHAR, CLUSTER BY, unenforced PRIMARY KEY, `?` bindings,
// SHOW WAREHOUSES/TABLES, ALTER WAREHOUSE). requestId + retry=true is
// honoured: a resubmitted statement is answered from the first execution.
// Every request and every execution is logged as one JSON line.
//
// Faults are injected through a file (--faults): when it appears, its JSON
// lines are queued and the file is renamed to <file>.taken. A fault line:
//   {"match": "<substring of the statement>", "kind": "status", "status": 429,
//    "retry_after": 1, "count": 1}
//   {"match": "...", "kind": "drop_after_execute"}  (runs it, then closes the connection)
//   {"match": "...", "kind": "slow", "seconds": 2}   (runs it, answers 202 until then)
//
// Usage: snowflake_emulator --cert C --key K --public-key P --account A --user U
//        --database DB --pg-url URL --log FILE --port-file FILE [--faults FILE]
//        [--warehouse NAME=SUSPENDED|STARTED]... [--role R] [--partition-rows N]
#include <arpa/inet.h>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
    std::string cert, key, public_key, account, user, database, pg_url, log, port_file, faults;
    std::string role;
    std::map<std::string, std::string> warehouses;  // name -> state
    std::size_t partition_rows = 1000;
};

struct Fault {
    std::string match;
    std::string kind;
    int status = 0;
    int retry_after = -1;
    int count = 1;
    double seconds = 0;
};

struct Answer {
    int status = 200;
    Json body;
    std::optional<int> retry_after;
};

// One executed statement, kept for resubmissions and polling.
struct Execution {
    std::string handle;
    std::string request_id;
    Answer answer;  // the final answer (200 or 422)
    std::vector<std::vector<Json>> rows;
    Json row_type;
    Clock::time_point ready_at;
    bool compute = false;  // the statement needed a running warehouse
};

struct Request {
    std::string method, path, query;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

std::string upper(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return s;
}

std::string lower(std::string s) {
    for (char& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

std::string query_param(const std::string& query, const std::string& name) {
    std::istringstream in(query);
    std::string part;
    while (std::getline(in, part, '&')) {
        const auto eq = part.find('=');
        if (part.substr(0, eq) == name) {
            return eq == std::string::npos ? "" : part.substr(eq + 1);
        }
    }
    return {};
}

std::string b64url_decode(std::string in) {
    for (char& c : in) {
        c = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (in.size() % 4 != 0) {
        in += '=';
    }
    std::string out(in.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    if (n < 0) {
        return {};
    }
    std::size_t pad = 0;
    while (pad < 2 && in[in.size() - 1 - pad] == '=') {
        ++pad;
    }
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

Answer error_answer(int status, std::string code, std::string message, std::string sql_state = {},
                    std::string handle = {}) {
    Json body = {{"code", code}, {"message", message}};
    if (!sql_state.empty()) {
        body["sqlState"] = sql_state;
    }
    if (!handle.empty()) {
        body["statementHandle"] = handle;
        body["statementStatusUrl"] = "/api/v2/statements/" + handle;
    }
    return {status, body, std::nullopt};
}

// A 200 for a statement that succeeded (the caller fills the rows).
Answer ok_answer() {
    return {200,
            {{"code", "090001"},
             {"sqlState", "00000"},
             {"message", "Statement executed successfully."}},
            std::nullopt};
}

// Replaces `?` outside quotes by $1, $2, ... and returns how many there were.
int number_placeholders(std::string& sql) {
    std::string out;
    int n = 0;
    bool quoted = false;
    for (const char c : sql) {
        if (c == '\'') {
            quoted = !quoted;
        }
        if (c == '?' && !quoted) {
            out += fmt::format("${}", ++n);
        } else {
            out += c;
        }
    }
    sql = out;
    return n;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (std::size_t at = s.find(from); at != std::string::npos;
         at = s.find(from, at + to.size())) {
        s.replace(at, from.size(), to);
    }
}

// Removes "<keyword> (...)" including the balanced parentheses, and a comma before it.
void remove_clause(std::string& s, const std::string& keyword) {
    const auto at = s.find(keyword);
    if (at == std::string::npos) {
        return;
    }
    auto open = s.find('(', at);
    int depth = 0;
    std::size_t end = open;
    for (; end < s.size(); ++end) {
        depth += s[end] == '(' ? 1 : s[end] == ')' ? -1 : 0;
        if (depth == 0) {
            break;
        }
    }
    std::size_t start = at;
    while (start > 0 && (s[start - 1] == ' ' || s[start - 1] == '\n')) {
        --start;
    }
    if (start > 0 && s[start - 1] == ',') {
        --start;
    }
    s.erase(start, end + 1 - start);
}

// Rewrites every `NAME(<argument>)` whose argument has no parentheses into
// `before + argument + after`: Snowflake functions PostgreSQL lacks.
void rewrite_call(std::string& s, const std::string& name, const std::string& before,
                  const std::string& after) {
    for (std::size_t at = s.find(name + "("); at != std::string::npos;
         at = s.find(name + "(", at)) {
        const std::size_t open = at + name.size();
        const std::size_t close = s.find(')', open);
        const std::string argument = s.substr(open + 1, close - open - 1);
        const std::string replacement = before + argument + after;
        s.replace(at, close + 1 - at, replacement);
        at += replacement.size();
    }
}

// Snowflake SQL the loader sends -> PostgreSQL.
std::string translate(std::string sql) {
    // verify's checksums: the upper 64 bits of an md5 (signed here, unsigned in
    // Snowflake: their sums agree modulo 2^64, which is all the client uses)
    // and a timestamp's microseconds since the epoch.
    rewrite_call(sql, "MD5_NUMBER_UPPER64", "('x' || substr(md5(", "), 1, 16))::bit(64)::bigint");
    rewrite_call(sql, "DATE_PART", "(extract(epoch FROM ", ") * 1000000)::bigint");
    replace_all(sql, "(extract(epoch FROM EPOCH_MICROSECOND, ", "(extract(epoch FROM ");
    replace_all(sql, "CREATE TRANSIENT TABLE", "CREATE UNLOGGED TABLE");
    // Declared jobs: semi-structured and binary values arrive as text and are converted.
    rewrite_call(sql, "PARSE_JSON", "(", ")::jsonb");
    rewrite_call(sql, "TO_BINARY", "decode(", ")");
    // A declared job's verify buckets: TO_NUMBER(<hex>, 'XXXX') reads 4 hex digits.
    replace_all(sql, "TO_NUMBER(", "(('x' || ");
    replace_all(sql, ", 'XXXX')", ")::bit(16)::int)");
    replace_all(sql, ", 'HEX')", ", 'hex')");
    replace_all(sql, "CURRENT_TIMESTAMP()", "now()");
    replace_all(sql, " VARIANT", " jsonb");
    replace_all(sql, " ARRAY", " jsonb");
    replace_all(sql, " BINARY", " bytea");
    replace_all(sql, "TIMESTAMP_NTZ(", "timestamp(");
    replace_all(sql, "TIME(", "time(");
    replace_all(sql, "NUMBER(", "numeric(");
    replace_all(sql, "TIMESTAMP_TZ(", "timestamptz(");
    replace_all(sql, "VARCHAR(", "varchar(");
    replace_all(sql, "VARCHAR", "text");
    replace_all(sql, "\nDATA_RETENTION_TIME_IN_DAYS = 0", "");
    remove_clause(sql, "CLUSTER BY");
    remove_clause(sql, "PRIMARY KEY");  // Snowflake does not enforce it; neither do we
    return sql;
}

class Emulator {
public:
    explicit Emulator(Options options) : o_(std::move(options)) {}

    void start();
    void serve(int client_fd, int connection);

private:
    Answer handle(const Request& request, int connection, bool& drop);
    Answer statement(const Request& request, int connection, bool& drop);
    Answer poll(const std::string& handle, const Request& request);
    std::optional<Answer> check_auth(const Request& request);
    Answer run_sql(const std::string& statement, const Json& bindings, const std::string& warehouse,
                   Execution& execution);
    Answer run_pg(std::string sql, const Json& bindings, Execution& execution);
    Answer result_answer(const Execution& execution, std::size_t partition);
    std::optional<Fault> take_fault(const std::string& statement);
    void log(Json line);
    PGresult* exec(const std::string& sql, const std::vector<std::optional<std::string>>& params);

    Options o_;
    std::mutex mutex_;
    PGconn* pg_ = nullptr;
    SSL_CTX* ctx_ = nullptr;
    EVP_PKEY* public_key_ = nullptr;
    std::string fingerprint_;
    std::deque<Fault> faults_;
    std::map<std::string, Execution> by_request_;  // requestId -> execution
    std::map<std::string, std::string> handle_to_request_;
    std::ofstream log_;
    long seq_ = 0;
    Clock::time_point started_ = Clock::now();
    long handles_ = 0;
};

void Emulator::log(Json line) {
    line["seq"] = ++seq_;
    line["ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
    log_ << line.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
    log_.flush();
}

PGresult* Emulator::exec(const std::string& sql,
                         const std::vector<std::optional<std::string>>& params) {
    std::vector<const char*> values;
    for (const auto& p : params) {
        values.push_back(p ? p->c_str() : nullptr);
    }
    return PQexecParams(pg_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                        nullptr, nullptr, 0);
}

std::optional<Fault> Emulator::take_fault(const std::string& statement) {
    if (!o_.faults.empty() && std::filesystem::exists(o_.faults)) {
        std::ifstream in(o_.faults);
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty()) {
                continue;
            }
            const Json j = Json::parse(line);
            Fault f;
            f.match = j.value("match", "");
            f.kind = j.value("kind", "");
            f.status = j.value("status", 0);
            f.retry_after = j.value("retry_after", -1);
            f.count = j.value("count", 1);
            f.seconds = j.value("seconds", 0.0);
            faults_.push_back(f);
        }
        std::filesystem::rename(o_.faults, o_.faults + ".taken");
    }
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
        if (statement.find(it->match) != std::string::npos) {
            Fault f = *it;
            if (--it->count <= 0) {
                faults_.erase(it);
            }
            return f;
        }
    }
    return std::nullopt;
}

std::optional<Answer> Emulator::check_auth(const Request& r) {
    const auto header = [&](const char* name) {
        auto it = r.headers.find(name);
        return it == r.headers.end() ? std::string() : it->second;
    };
    if (header("user-agent").empty()) {
        return error_answer(400, "390142", "Incoming request does not contain a valid payload.");
    }
    const std::string accept = header("accept");
    if (accept.find("application/json") == std::string::npos &&
        accept.find("*/*") == std::string::npos) {
        return error_answer(400, "390142", "Accept must include application/json.");
    }
    const std::string type = header("x-snowflake-authorization-token-type");
    if (!type.empty() && type != "KEYPAIR_JWT") {
        return error_answer(401, "390144", "JWT token is invalid.");
    }
    const std::string auth = header("authorization");
    const auto invalid = [&](const std::string& why) {
        log({{"event", "auth_rejected"}, {"why", why}});
        return error_answer(401, "390144", "JWT token is invalid.");
    };
    if (!auth.starts_with("Bearer ")) {
        return invalid("no bearer token");
    }
    const std::string token = auth.substr(7);
    const auto dot1 = token.find('.');
    const auto dot2 = token.find('.', dot1 + 1);
    if (dot1 == std::string::npos || dot2 == std::string::npos) {
        return invalid("not three segments");
    }
    const Json header_json = Json::parse(b64url_decode(token.substr(0, dot1)), nullptr, false);
    const Json claims =
        Json::parse(b64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1)), nullptr, false);
    const std::string signature = b64url_decode(token.substr(dot2 + 1));
    if (!header_json.is_object() || header_json.value("alg", "") != "RS256") {
        return invalid("alg is not RS256");
    }
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    const std::string signed_part = token.substr(0, dot2);
    const bool verified =
        EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, public_key_) == 1 &&
        EVP_DigestVerify(
            md, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
            reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
    EVP_MD_CTX_free(md);
    if (!verified) {
        return invalid("signature does not verify with the registered public key");
    }
    const std::string subject = upper(o_.account) + "." + upper(o_.user);
    if (!claims.is_object() || claims.value("sub", "") != subject ||
        claims.value("iss", "") != subject + "." + fingerprint_) {
        return invalid("iss/sub do not name the account, user and key fingerprint");
    }
    if (!claims.contains("iat") || !claims.contains("exp") || !claims["iat"].is_number() ||
        !claims["exp"].is_number()) {
        return invalid("iat/exp missing");
    }
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto iat = claims["iat"].get<long long>();
    const auto exp = claims["exp"].get<long long>();
    if (iat > now + 60 || exp <= now || exp - iat > 3600) {
        return invalid("outside its lifetime, or a lifetime above one hour");
    }
    return std::nullopt;
}

Answer Emulator::handle(const Request& r, int connection, bool& drop) {
    if (auto denied = check_auth(r)) {
        return *denied;
    }
    constexpr std::string_view base = "/api/v2/statements";
    if (r.method == "POST" && r.path == base) {
        const auto it = r.headers.find("content-type");
        if (it == r.headers.end() || it->second.find("application/json") == std::string::npos) {
            return error_answer(415, "390142", "Unsupported media type.");
        }
        return statement(r, connection, drop);
    }
    if (r.method == "GET" && r.path.starts_with(std::string(base) + "/")) {
        return poll(r.path.substr(base.size() + 1), r);
    }
    return error_answer(404, "390400", "Not found.");
}

Answer Emulator::result_answer(const Execution& e, std::size_t partition) {
    const std::size_t per = std::max<std::size_t>(1, o_.partition_rows);
    const std::size_t partitions = e.rows.empty() ? 1 : (e.rows.size() + per - 1) / per;
    Json data = Json::array();
    for (std::size_t i = partition * per; i < std::min(e.rows.size(), (partition + 1) * per); ++i) {
        data.push_back(e.rows[i]);
    }
    if (partition > 0) {
        return {200, Json{{"data", data}}, std::nullopt};
    }
    Json info = Json::array();
    for (std::size_t p = 0; p < partitions; ++p) {
        const std::size_t n = std::min(per, e.rows.size() - std::min(e.rows.size(), p * per));
        info.push_back({{"rowCount", n}, {"uncompressedSize", 100 * n}});
    }
    Json body = e.answer.body;
    body["resultSetMetaData"] = {{"numRows", e.rows.size()},
                                 {"format", "jsonv2"},
                                 {"partitionInfo", info},
                                 {"rowType", e.row_type}};
    body["data"] = data;
    return {200, body, std::nullopt};
}

Answer Emulator::poll(const std::string& handle, const Request& r) {
    const auto found = handle_to_request_.find(handle);
    if (found == handle_to_request_.end()) {
        return error_answer(400, "000709", fmt::format("Statement {} not found", handle), "02000");
    }
    const Execution& e = by_request_.at(found->second);
    if (Clock::now() < e.ready_at) {
        Answer running = error_answer(202, "333334",
                                      "Asynchronous execution in progress. Use provided query id "
                                      "to perform query monitoring and management.",
                                      {}, handle);
        return running;
    }
    if (e.answer.status != 200) {
        return e.answer;
    }
    const std::string partition_text = query_param(r.query, "partition");
    std::size_t partition = 0;
    if (!partition_text.empty()) {
        partition = std::stoul(partition_text);
        const std::size_t per = std::max<std::size_t>(1, o_.partition_rows);
        const std::size_t count = e.rows.empty() ? 1 : (e.rows.size() + per - 1) / per;
        if (partition >= count) {
            return error_answer(400, "391922", "Invalid partition parameter.", "22023");
        }
    }
    return result_answer(e, partition);
}

Answer Emulator::statement(const Request& r, int connection, bool& drop) {
    const std::string request_id = query_param(r.query, "requestId");
    const bool retry = query_param(r.query, "retry") == "true";
    const Json body = Json::parse(r.body, nullptr, false);
    Json entry = {{"event", "request"},       {"conn", connection}, {"method", "POST"},
                  {"request_id", request_id}, {"retry", retry},     {"body_bytes", r.body.size()}};
    if (!body.is_object() || !body.contains("statement") || !body["statement"].is_string() ||
        body["statement"].get<std::string>().empty()) {
        entry["status"] = 400;
        log(entry);
        return error_answer(400, "000900", "SQL compilation error:\nEmpty SQL statement.");
    }
    const std::string sql = body["statement"].get<std::string>();
    entry["statement"] = sql.substr(0, 60);
    if (body.contains("bindings") && body["bindings"].contains("1") &&
        body["bindings"]["1"]["value"].is_array()) {
        entry["rows"] = body["bindings"]["1"]["value"].size();
    }
    static const std::vector<std::string> allowed = {"BINARY_OUTPUT_FORMAT",
                                                     "CLIENT_RESULT_CHUNK_SIZE",
                                                     "DATE_OUTPUT_FORMAT",
                                                     "MULTI_STATEMENT_COUNT",
                                                     "QUERY_TAG",
                                                     "ROWS_PER_RESULTSET",
                                                     "TIME_OUTPUT_FORMAT",
                                                     "TIMESTAMP_LTZ_OUTPUT_FORMAT",
                                                     "TIMESTAMP_NTZ_OUTPUT_FORMAT",
                                                     "TIMESTAMP_OUTPUT_FORMAT",
                                                     "TIMESTAMP_TZ_OUTPUT_FORMAT",
                                                     "TIMEZONE",
                                                     "USE_CACHED_RESULT"};
    if (body.contains("parameters")) {
        for (const auto& [key, value] : body["parameters"].items()) {
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                entry["status"] = 400;
                log(entry);
                return error_answer(400, "390142",
                                    "Incoming request does not contain a valid payload.");
            }
        }
    }
    if (body.value("database", "") != upper(o_.database)) {
        entry["status"] = 422;
        log(entry);
        return error_answer(422, "002003",
                            "SQL compilation error:\nDatabase does not exist or not authorized.",
                            "02000");
    }
    if (!o_.role.empty() && body.contains("role") && body["role"] != upper(o_.role)) {
        entry["status"] = 400;
        log(entry);
        return error_answer(400, "390186", "The role requested in the connection is not listed.");
    }

    if (retry) {
        auto found = by_request_.find(request_id);
        if (found != by_request_.end()) {
            entry["answered_from"] = found->second.handle;
            entry["executed"] = false;
            Answer a = Clock::now() < found->second.ready_at ? poll(found->second.handle, r)
                       : found->second.answer.status == 200  ? result_answer(found->second, 0)
                                                             : found->second.answer;
            entry["status"] = a.status;
            log(entry);
            return a;
        }
    } else if (by_request_.contains(request_id)) {
        entry["reused_request_id_without_retry"] = true;
    }

    std::optional<Fault> fault = take_fault(sql);
    if (fault && fault->kind == "status") {
        entry["fault"] = fmt::format("status {}", fault->status);
        entry["status"] = fault->status;
        entry["executed"] = false;
        log(entry);
        Answer a =
            error_answer(fault->status, fault->status == 429 ? "390505" : "390500",
                         fault->status == 429 ? "Too many requests." : "Service unavailable.");
        if (fault->retry_after >= 0) {
            a.retry_after = fault->retry_after;
        }
        return a;
    }

    Execution e;
    e.handle = fmt::format("01b0e000-0000-4000-8000-{:012d}", ++handles_);
    e.request_id = request_id;
    e.ready_at = Clock::now();
    e.answer = run_sql(sql, body.value("bindings", Json::object()), body.value("warehouse", ""), e);
    e.answer.body["statementHandle"] = e.handle;
    e.answer.body["statementStatusUrl"] = "/api/v2/statements/" + e.handle;
    e.answer.body["requestId"] = request_id;
    entry["executed"] = true;
    entry["compute"] = e.compute;
    entry["handle"] = e.handle;
    entry["status"] = e.answer.status;
    if (e.answer.status != 200) {
        entry["error"] = e.answer.body.value("message", "");
    }
    if (fault && fault->kind == "slow") {
        e.ready_at =
            Clock::now() + std::chrono::milliseconds(static_cast<long>(fault->seconds * 1000));
        entry["fault"] = "slow";
    }
    if (fault && fault->kind == "drop_after_execute") {
        entry["fault"] = "drop_after_execute";
        drop = true;
    }
    by_request_[request_id] = e;
    handle_to_request_[e.handle] = request_id;
    log(entry);
    const Execution& stored = by_request_[request_id];
    if (Clock::now() < stored.ready_at) {
        return poll(stored.handle, r);
    }
    return stored.answer.status == 200 ? result_answer(stored, 0) : stored.answer;
}

Answer Emulator::run_sql(const std::string& sql, const Json& bindings, const std::string& warehouse,
                         Execution& e) {
    const auto status_result = [&](const std::string& text) {
        e.row_type = Json::array({{{"name", "status"}, {"type", "text"}}});
        e.rows = {{text}};
        return ok_answer();
    };
    const std::string first = upper(sql.substr(0, sql.find_first_of(" \n")));
    if (sql.starts_with("SHOW WAREHOUSES LIKE '")) {
        const std::string pattern = upper(sql.substr(22, sql.find('\'', 22) - 22));
        e.row_type = Json::array({{{"name", "name"}, {"type", "text"}},
                                  {{"name", "state"}, {"type", "text"}},
                                  {{"name", "type"}, {"type", "text"}},
                                  {{"name", "size"}, {"type", "text"}}});
        for (const auto& [name, state] : o_.warehouses) {
            if (name == pattern) {  // the loader sends exact names
                e.rows.push_back({name, state, "STANDARD", "X-Small"});
            }
        }
        return ok_answer();
    }
    if (sql.starts_with("ALTER WAREHOUSE ")) {
        std::istringstream words(sql.substr(16));
        std::string name, action, rest;
        words >> name >> action;
        std::getline(words, rest);
        auto it = o_.warehouses.find(upper(name));
        if (it == o_.warehouses.end()) {
            return error_answer(422, "002003", "Warehouse does not exist or not authorized.",
                                "02000");
        }
        if (upper(action) == "RESUME") {
            if (it->second != "SUSPENDED" && rest.find("IF SUSPENDED") == std::string::npos) {
                return error_answer(422, "090063",
                                    fmt::format("Invalid state. Warehouse '{}' cannot be resumed "
                                                "since it is not suspended.",
                                                name),
                                    "22000");
            }
            if (it->second == "SUSPENDED") {
                std::this_thread::sleep_for(std::chrono::milliseconds(200));  // provisioning
                it->second = "STARTED";
                log({{"event", "warehouse"}, {"name", it->first}, {"action", "resume"}});
            }
            return status_result("Statement executed successfully.");
        }
        if (upper(action) == "SUSPEND") {
            if (it->second == "SUSPENDED") {
                return error_answer(
                    422, "090064",
                    fmt::format("Invalid state. Warehouse '{}' cannot be suspended.", name),
                    "22000");
            }
            it->second = "SUSPENDED";
            log({{"event", "warehouse"}, {"name", it->first}, {"action", "suspend"}});
            return status_result("Statement executed successfully.");
        }
        return error_answer(422, "001003", "SQL compilation error: unsupported ALTER WAREHOUSE",
                            "42000");
    }
    if (sql.starts_with("SHOW TABLES LIKE '")) {
        const std::string pattern = sql.substr(18, sql.find('\'', 18) - 18);
        const std::string schema = sql.substr(sql.rfind(' ') + 1);
        PGresult* res = exec(
            "SELECT upper(tablename) FROM pg_tables WHERE schemaname = lower($1) "
            "AND upper(tablename) LIKE $2 ORDER BY 1",
            {schema, pattern});
        e.row_type = Json::array({{{"name", "created_on"}, {"type", "timestamp_ltz"}},
                                  {{"name", "name"}, {"type", "text"}},
                                  {{"name", "database_name"}, {"type", "text"}},
                                  {{"name", "schema_name"}, {"type", "text"}},
                                  {{"name", "kind"}, {"type", "text"}}});
        for (int i = 0; i < PQntuples(res); ++i) {
            e.rows.push_back({"1791499231.000000000", PQgetvalue(res, i, 0), upper(o_.database),
                              upper(schema), "TRANSIENT"});
        }
        PQclear(res);
        return ok_answer();
    }
    if (first == "BEGIN" || first == "COMMIT" || first == "USE" || first == "ROLLBACK") {
        return error_answer(422, "391911", "Command not supported by SQL API.", "0A000");
    }
    // Statements that need compute run on the request's warehouse (AUTO_RESUME = TRUE);
    // SHOW, CREATE, ALTER and DROP are metadata operations that need none.
    if (first == "INSERT" || first == "MERGE" || first == "DELETE" || first == "SELECT" ||
        first == "UPDATE" || first == "COPY") {
        e.compute = true;
        auto it = o_.warehouses.find(warehouse);
        if (it == o_.warehouses.end()) {
            return error_answer(422, "000606",
                                "No active warehouse selected in the current session.", "57P03");
        }
        if (it->second == "SUSPENDED") {
            it->second = "STARTED";
            log({{"event", "warehouse"}, {"name", it->first}, {"action", "auto_resume"}});
        }
    }
    return run_pg(sql, bindings, e);
}

Answer Emulator::run_pg(std::string sql, const Json& bindings, Execution& e) {
    const std::string original = sql;
    sql = translate(sql);
    const int placeholders = number_placeholders(sql);
    if (std::count(original.begin(), original.end(), ';') > 0) {
        return error_answer(422, "000008",
                            "Actual statement count 2 did not match the desired statement count 1.",
                            "0A000");
    }
    // Bindings: keys "1".."n", values strings/null, arrays all of one length.
    std::vector<std::vector<std::optional<std::string>>> rows;  // per execution
    std::optional<std::size_t> batch;
    bool scalar_seen = false;
    for (int i = 1; i <= placeholders; ++i) {
        const auto it = bindings.find(std::to_string(i));
        if (it == bindings.end()) {
            return error_answer(422, "002049", "SQL compilation error: Bind variable ? not set.",
                                "42601");
        }
        static const std::vector<std::string> types = {
            "FIXED", "REAL",         "TEXT",          "BOOLEAN",       "DATE",
            "TIME",  "TIMESTAMP_TZ", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "BINARY"};
        const std::string type = it->value("type", "");
        if (std::find(types.begin(), types.end(), type) == types.end()) {
            return error_answer(422, "002040", fmt::format("Unsupported data type '{}'.", type),
                                "42601");
        }
        const Json& value = (*it)["value"];
        std::vector<Json> values;
        if (value.is_array()) {
            if (batch && *batch != value.size()) {
                return error_answer(422, "002099", "SQL compilation error: Batch size mismatch.",
                                    "42601");
            }
            batch = value.size();
            values.assign(value.begin(), value.end());
        } else {
            scalar_seen = true;
            values.push_back(value);
        }
        if (rows.size() < values.size()) {
            rows.resize(values.size());
        }
        for (std::size_t r = 0; r < values.size(); ++r) {
            const Json& v = values[r];
            if (!v.is_null() && !v.is_string()) {
                return error_answer(422, "002086", "Bind values must be JSON strings.", "22000");
            }
            std::optional<std::string> text;
            if (v.is_string()) {
                text = v.get<std::string>();
                const bool digits =
                    !text->empty() && text->find_first_not_of("-0123456789") == std::string::npos;
                if (type == "FIXED" && !digits) {
                    return error_answer(
                        422, "002086",
                        fmt::format(
                            "SQL compilation error:\nInvalid bind value ({}) for type (FIXED).",
                            *text),
                        "22000");
                }
                if (type == "BOOLEAN" && *text != "true" && *text != "false") {
                    return error_answer(422, "002086", "Invalid bind value for type (BOOLEAN).",
                                        "22000");
                }
            }
            rows[r].push_back(text);
        }
    }
    if (batch && scalar_seen) {
        return error_answer(422, "002099", "Mixed scalar and array bindings.", "42601");
    }
    if (rows.empty()) {
        rows.emplace_back();
    }
    if (batch && !original.starts_with("INSERT")) {
        return error_answer(422, "002099", "Array bindings are only supported for INSERT here.",
                            "42601");
    }

    const auto pg_error = [&](PGresult* res) {
        const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const std::string sql_state = state != nullptr ? state : "XX000";
        // A missing table or schema is Snowflake's 002003 (sqlState 02000).
        const bool missing = sql_state == "42P01" || sql_state == "3F000";
        Answer a =
            missing
                ? error_answer(422, "002003",
                               fmt::format("SQL compilation error:\nObject does not exist "
                                           "or not authorized. ({})",
                                           PQresultErrorMessage(res)),
                               "02000", e.handle)
                : error_answer(422, "100000",
                               fmt::format("SQL execution error: {}", PQresultErrorMessage(res)),
                               sql_state, e.handle);
        PQclear(res);
        PQclear(PQexec(pg_, "ROLLBACK"));
        return a;
    };
    PQclear(PQexec(pg_, "BEGIN"));
    long long inserted = 0, updated = 0;
    const bool merge = original.starts_with("MERGE INTO ");
    if (merge) {
        // Counts and the nondeterminism check from the MERGE's own parts.
        const auto using_at = sql.find("\nUSING ");
        const auto on_at = sql.find("\nON ");
        const auto when_at = sql.find("\nWHEN ");
        const std::string target = sql.substr(11, using_at - 11);
        const std::string source = sql.substr(using_at + 7, on_at - using_at - 7);
        const std::string on = sql.substr(on_at + 4, when_at - on_at - 4);
        std::string predicate = "true";
        const auto and_at = sql.find("WHEN MATCHED AND ");
        if (and_at != std::string::npos) {
            predicate = sql.substr(and_at + 17, sql.find(" THEN UPDATE", and_at) - and_at - 17);
        }
        PGresult* dup = exec(fmt::format("SELECT 1 FROM {} JOIN {} ON {} WHERE {} GROUP BY t.ctid "
                                         "HAVING count(*) > 1 LIMIT 1",
                                         source, target, on, predicate),
                             rows[0]);
        if (PQresultStatus(dup) != PGRES_TUPLES_OK) {
            return pg_error(dup);
        }
        const bool duplicate = PQntuples(dup) > 0;
        PQclear(dup);
        if (duplicate) {
            PQclear(PQexec(pg_, "ROLLBACK"));
            return error_answer(422, "100090", "Duplicate row detected during DML action", "42P18",
                                e.handle);
        }
        PGresult* counts = exec(fmt::format("SELECT count(*) FILTER (WHERE t.ctid IS NULL), "
                                            "count(*) FILTER (WHERE t.ctid IS NOT NULL AND ({})) "
                                            "FROM {} LEFT JOIN {} ON {}",
                                            predicate, source, target, on),
                                rows[0]);
        if (PQresultStatus(counts) != PGRES_TUPLES_OK) {
            return pg_error(counts);
        }
        inserted = std::stoll(PQgetvalue(counts, 0, 0));
        updated = std::stoll(PQgetvalue(counts, 0, 1));
        PQclear(counts);
    }
    long long affected = 0;
    Json row_type = Json::array();
    std::vector<std::vector<Json>> result_rows;
    for (const auto& params : rows) {
        PGresult* res = exec(sql, params);
        const auto status = PQresultStatus(res);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            return pg_error(res);
        }
        const char* tuples = PQcmdTuples(res);
        affected += (tuples != nullptr && *tuples != '\0') ? std::stoll(tuples) : 0;
        if (status == PGRES_TUPLES_OK) {
            for (int c = 0; c < PQnfields(res); ++c) {
                row_type.push_back({{"name", upper(PQfname(res, c))}, {"type", "text"}});
            }
            for (int r = 0; r < PQntuples(res); ++r) {
                std::vector<Json> row;
                for (int c = 0; c < PQnfields(res); ++c) {
                    row.push_back(PQgetisnull(res, r, c) ? Json(nullptr)
                                                         : Json(PQgetvalue(res, r, c)));
                }
                result_rows.push_back(row);
            }
        }
        PQclear(res);
    }
    PQclear(PQexec(pg_, "COMMIT"));
    Json body = ok_answer().body;
    const auto number = [](const char* name) { return Json{{"name", name}, {"type", "fixed"}}; };
    if (original.starts_with("INSERT")) {
        e.row_type = Json::array({number("number of rows inserted")});
        e.rows = {{std::to_string(affected)}};
        body["stats"] = {{"numRowsInserted", affected}};
    } else if (merge) {
        e.row_type = Json::array();
        std::vector<Json> row;
        if (original.find("WHEN NOT MATCHED") != std::string::npos) {
            e.row_type.push_back(number("number of rows inserted"));
            row.emplace_back(std::to_string(inserted));
        }
        if (original.find("THEN UPDATE") != std::string::npos) {
            e.row_type.push_back(number("number of rows updated"));
            row.emplace_back(std::to_string(updated));
        }
        e.rows = {row};
        body["stats"] = {{"numRowsInserted", inserted}, {"numRowsUpdated", updated}};
    } else if (original.starts_with("DELETE")) {
        e.row_type = Json::array({number("number of rows deleted")});
        e.rows = {{std::to_string(affected)}};
    } else if (original.starts_with("SELECT")) {
        e.row_type = row_type;
        e.rows = result_rows;
    } else {
        e.row_type = Json::array({{{"name", "status"}, {"type", "text"}}});
        e.rows = {{"Statement executed successfully."}};
    }
    return {200, body, std::nullopt};
}

// ---- transport --------------------------------------------------------------

bool read_request(SSL* ssl, std::string& buffer, Request& r) {
    std::size_t header_end;
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        char chunk[16384];
        const int n = SSL_read(ssl, chunk, sizeof chunk);
        if (n <= 0) {
            return false;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
    std::istringstream head(buffer.substr(0, header_end));
    std::string line;
    std::getline(head, line);
    std::istringstream request_line(line);
    std::string target;
    request_line >> r.method >> target;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string::npos ? "" : target.substr(q + 1);
    std::size_t length = 0;
    while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        const auto colon = line.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        r.headers[lower(line.substr(0, colon))] = value;
    }
    if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
        length = std::stoul(it->second);
    }
    if (auto it = r.headers.find("expect");
        it != r.headers.end() && lower(it->second) == "100-continue") {
        constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
        SSL_write(ssl, go_on.data(), static_cast<int>(go_on.size()));
    }
    buffer.erase(0, header_end + 4);
    while (buffer.size() < length) {
        char chunk[65536];
        const int n = SSL_read(ssl, chunk, sizeof chunk);
        if (n <= 0) {
            return false;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
    r.body = buffer.substr(0, length);
    buffer.erase(0, length);
    return true;
}

std::string gzip(const std::string& text) {
    z_stream z{};
    deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, text.size()) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

void Emulator::serve(int fd, int connection) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        {
            std::lock_guard lock(mutex_);
            log({{"event", "connection"}, {"conn", connection}});
        }
        std::string buffer;
        Request r;
        while (read_request(ssl, buffer, r)) {
            bool drop = false;
            Answer a;
            std::string extra;
            {
                std::lock_guard lock(mutex_);
                a = handle(r, connection, drop);
                if (r.method == "GET") {
                    log({{"event", "request"},
                         {"conn", connection},
                         {"method", "GET"},
                         {"path", r.path},
                         {"query", r.query},
                         {"status", a.status}});
                }
            }
            if (drop) {
                break;  // the statement ran; the client never hears of it
            }
            std::string body = a.body.dump(-1, ' ', false, Json::error_handler_t::replace);
            const bool partition = !query_param(r.query, "partition").empty();
            const auto enc = r.headers.find("accept-encoding");
            if (partition) {  // Snowflake always gzips partition answers
                if (enc == r.headers.end() || enc->second.find("gzip") == std::string::npos) {
                    body = R"({"code":"390142","message":"client must accept gzip"})";
                    a.status = 400;
                } else {
                    body = gzip(body);
                    extra += "Content-Encoding: gzip\r\n";
                }
            }
            if (a.retry_after) {
                extra += fmt::format("Retry-After: {}\r\n", *a.retry_after);
            }
            const std::string response = fmt::format(
                "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: "
                "{}\r\n{}\r\n{}",
                a.status, body.size(), extra, body);
            if (SSL_write(ssl, response.data(), static_cast<int>(response.size())) <= 0) {
                break;
            }
            r = Request{};
        }
    }
    SSL_free(ssl);
    ::close(fd);
}

void Emulator::start() {
    pg_ = PQconnectdb(o_.pg_url.c_str());
    if (PQstatus(pg_) != CONNECTION_OK) {
        throw std::runtime_error(std::string("emulator: PostgreSQL: ") + PQerrorMessage(pg_));
    }
    PQclear(PQexec(pg_, "SET TIME ZONE 'UTC'; SET client_min_messages = warning"));
    FILE* key_file = std::fopen(o_.public_key.c_str(), "r");
    if (key_file == nullptr) {
        throw std::runtime_error("emulator: cannot read the public key");
    }
    public_key_ = PEM_read_PUBKEY(key_file, nullptr, nullptr, nullptr);
    std::fclose(key_file);
    if (public_key_ == nullptr) {
        throw std::runtime_error("emulator: not a PEM public key");
    }
    unsigned char* der = nullptr;
    const int der_len = i2d_PUBKEY(public_key_, &der);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<std::size_t>(der_len), digest);
    OPENSSL_free(der);
    std::string b64(4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1, '\0');
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), digest, SHA256_DIGEST_LENGTH);
    b64.resize(b64.find('\0'));
    fingerprint_ = "SHA256:" + b64;

    ctx_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx_, o_.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, o_.key.c_str(), SSL_FILETYPE_PEM) != 1) {
        throw std::runtime_error("emulator: cannot load the server certificate or key");
    }
    log_.open(o_.log, std::ios::app);

    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 16) != 0) {
        throw std::runtime_error("emulator: cannot listen");
    }
    socklen_t len = sizeof addr;
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    {
        const std::string tmp = o_.port_file + ".tmp";
        std::ofstream(tmp) << ntohs(addr.sin_port) << '\n';
        std::filesystem::rename(tmp, o_.port_file);
    }
    int connections = 0;
    for (;;) {
        const int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) {
            continue;
        }
        std::thread([this, fd, n = ++connections] { serve(fd, n); }).detach();
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::string value = argv[i + 1];
        if (flag == "--cert")
            o.cert = value;
        else if (flag == "--key")
            o.key = value;
        else if (flag == "--public-key")
            o.public_key = value;
        else if (flag == "--account")
            o.account = value;
        else if (flag == "--user")
            o.user = value;
        else if (flag == "--database")
            o.database = value;
        else if (flag == "--role")
            o.role = value;
        else if (flag == "--pg-url")
            o.pg_url = value;
        else if (flag == "--log")
            o.log = value;
        else if (flag == "--port-file")
            o.port_file = value;
        else if (flag == "--faults")
            o.faults = value;
        else if (flag == "--partition-rows")
            o.partition_rows = std::stoul(value);
        else if (flag == "--warehouse") {
            const auto eq = value.find('=');
            o.warehouses[upper(value.substr(0, eq))] = upper(value.substr(eq + 1));
        } else {
            std::cerr << "unknown flag " << flag << '\n';
            return 2;
        }
    }
    try {
        Emulator emulator(o);
        emulator.start();
    } catch (const std::exception& e) {
        std::cerr << e.what() << '\n';
        return 1;
    }
}
