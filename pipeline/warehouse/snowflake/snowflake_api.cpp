// pipeline/warehouse/snowflake/snowflake_api.cpp: JSON in and out of the SQL API.
#include "pipeline/warehouse/snowflake/snowflake_api.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "pipeline/core/unicode.hpp"
#include "pipeline/warehouse/postgres/copy_text.hpp"

namespace pipeline {

namespace {

using Json = nlohmann::json;

// Binding type per destination column (order of destination_column_names).
constexpr std::array<std::string_view, 25> column_binding_types = {
    "FIXED",   "FIXED", "TEXT", "TEXT", "TEXT",  "TEXT", "TEXT", "TEXT", "TEXT",
    "TEXT",    "TEXT",  "TEXT", "TEXT", "FIXED", "TEXT", "TEXT", "TEXT", "TEXT",
    "BOOLEAN", "TEXT",  "TEXT", "TEXT", "TEXT",  "TEXT", "TEXT"};

constexpr std::size_t first_timestamp_column = 20;

// "YYYY-MM-DD HH:MM:SS.ffffff+00" -> "... +00:00", the form Snowflake's TEXT
// binding reads unambiguously into TIMESTAMP_TZ.
std::string snowflake_timestamp_text(std::string text) {
    if (text.ends_with("+00")) {
        text.resize(text.size() - 3);
        text += " +00:00";
    }
    return text;
}

// A row's binding values: destination texts with Snowflake's timestamp form.
DestinationTexts binding_texts(const OrderRow& row) {
    DestinationTexts texts = destination_value_texts(row);
    for (std::size_t c = first_timestamp_column; c < texts.size(); ++c) {
        if (texts[c]) {
            texts[c] = snowflake_timestamp_text(std::move(*texts[c]));
        }
    }
    return texts;
}

std::vector<std::optional<std::string>> row_of(const Json& array) {
    std::vector<std::optional<std::string>> row;
    row.reserve(array.size());
    for (const auto& value : array) {
        if (value.is_null()) {
            row.emplace_back(std::nullopt);
        } else if (value.is_string()) {
            row.emplace_back(value.get<std::string>());
        } else {
            row.emplace_back(value.dump());
        }
    }
    return row;
}

std::string string_field(const Json& doc, const char* key) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string statement_request_body(const StatementRequest& request) {
    nlohmann::ordered_json body;
    body["statement"] = request.statement;
    body["timeout"] = request.timeout_seconds;
    body["database"] = request.database;
    body["schema"] = request.schema;
    body["warehouse"] = request.warehouse;
    if (!request.role.empty()) {
        body["role"] = request.role;
    }
    if (!request.bindings.empty()) {
        nlohmann::ordered_json bindings = nlohmann::ordered_json::object();
        for (std::size_t i = 0; i < request.bindings.size(); ++i) {
            const SnowflakeBinding& binding = request.bindings[i];
            const auto json_of = [](const std::optional<std::string>& value) {
                return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
            };
            nlohmann::ordered_json values = nlohmann::ordered_json::array();
            if (binding.scalar) {
                values = binding.values.empty() ? nlohmann::ordered_json(nullptr)
                                                : json_of(binding.values.front());
            } else {
                for (const auto& value : binding.values) {
                    values.push_back(json_of(value));
                }
            }
            bindings[std::to_string(i + 1)] = {{"type", binding.type}, {"value", values}};
        }
        body["bindings"] = std::move(bindings);
    }
    nlohmann::ordered_json parameters;
    parameters["TIMEZONE"] = "UTC";
    if (!request.query_tag.empty()) {
        parameters["QUERY_TAG"] = request.query_tag;
    }
    body["parameters"] = std::move(parameters);
    // Invalid UTF-8 cannot come from a UTF-8 source database; replace defensively.
    std::string text = body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    if (!request.bindings_json.empty()) {
        text.pop_back();  // the closing brace of the body object
        text += ",\"bindings\":";
        text += request.bindings_json;
        text += '}';
    }
    return text;
}

std::string snowflake_timestamp(Timestamp ts) {
    std::string text = format_timestamp(ts);  // YYYY-MM-DDTHH:MM:SS.ffffffZ
    text[10] = ' ';
    text.pop_back();
    return text + " +00:00";
}

std::vector<SnowflakeBinding> order_row_bindings(std::span<const OrderRow> rows) {
    std::vector<SnowflakeBinding> bindings(column_binding_types.size());
    for (std::size_t c = 0; c < bindings.size(); ++c) {
        bindings[c].type = std::string(column_binding_types[c]);
        bindings[c].values.reserve(rows.size());
    }
    for (const OrderRow& row : rows) {
        DestinationTexts texts = binding_texts(row);
        for (std::size_t c = 0; c < texts.size(); ++c) {
            bindings[c].values.push_back(std::move(texts[c]));
        }
    }
    return bindings;
}

std::vector<std::span<const OrderRow>> chunk_by_body_size(std::span<const OrderRow> rows,
                                                          std::size_t max_body_bytes) {
    // The statement text and the bindings' envelopes ({"1":{"type":..,"value":[..]},..}).
    constexpr std::size_t fixed_overhead = 4096;
    std::vector<std::span<const OrderRow>> chunks;
    std::size_t start = 0;
    std::size_t bytes = fixed_overhead;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        std::size_t row_bytes = 0;  // each value as JSON, plus its comma
        for (const auto& text : binding_texts(rows[i])) {
            row_bytes +=
                1 + (text ? Json(*text).dump(-1, ' ', false, Json::error_handler_t::replace).size()
                          : std::string_view("null").size());
        }
        if (i > start && bytes + row_bytes > max_body_bytes) {
            chunks.push_back(rows.subspan(start, i - start));
            start = i;
            bytes = fixed_overhead;
        }
        bytes += row_bytes;
    }
    if (start < rows.size()) {
        chunks.push_back(rows.subspan(start));
    }
    return chunks;
}

StatementOutcome parse_statement_response(int http_status, std::string_view body) {
    StatementOutcome outcome;
    outcome.http_status = http_status;
    const Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
        outcome.kind = StatementOutcome::Kind::failed;
        outcome.message =
            body.empty() ? "empty response body" : "response body is not a JSON object";
        return outcome;
    }
    outcome.statement_handle = string_field(doc, "statementHandle");
    outcome.code = string_field(doc, "code");
    outcome.sql_state = string_field(doc, "sqlState");
    outcome.message = string_field(doc, "message");
    if (http_status == 202) {
        outcome.kind = StatementOutcome::Kind::running;
        return outcome;
    }
    if (http_status != 200) {
        outcome.kind = StatementOutcome::Kind::failed;
        return outcome;
    }
    outcome.kind = StatementOutcome::Kind::done;
    if (auto meta = doc.find("resultSetMetaData"); meta != doc.end() && meta->is_object()) {
        if (auto types = meta->find("rowType"); types != meta->end() && types->is_array()) {
            for (const auto& column : *types) {
                outcome.result.columns.push_back(column.is_object() ? string_field(column, "name")
                                                                    : std::string());
            }
        }
        if (auto info = meta->find("partitionInfo"); info != meta->end() && info->is_array()) {
            outcome.result.partitions = std::max<int>(1, static_cast<int>(info->size()));
        }
    }
    if (auto data = doc.find("data"); data != doc.end() && data->is_array()) {
        for (const auto& row : *data) {
            if (row.is_array()) {
                outcome.result.rows.push_back(row_of(row));
            }
        }
    }
    return outcome;
}

std::optional<std::vector<std::vector<std::optional<std::string>>>> parse_partition_body(
    std::string_view body) {
    const Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
        return std::nullopt;
    }
    auto data = doc.find("data");
    if (data == doc.end() || !data->is_array()) {
        return std::nullopt;
    }
    std::vector<std::vector<std::optional<std::string>>> rows;
    for (const auto& row : *data) {
        if (!row.is_array()) {
            return std::nullopt;
        }
        rows.push_back(row_of(row));
    }
    return rows;
}

HttpRetry classify_http_status(int http_status) {
    switch (http_status) {
        case 401:
            return HttpRetry::reauthenticate;
        case 429:
        case 503:
        case 504:
            return HttpRetry::throttled;
        case 500:
        case 502:
            return HttpRetry::resubmit;
        default:
            return HttpRetry::none;
    }
}

std::optional<std::size_t> find_column(const ResultSet& result, std::string_view name) {
    const std::string wanted = ascii_lower(name);
    for (std::size_t c = 0; c < result.columns.size(); ++c) {
        if (ascii_lower(result.columns[c]) == wanted) {
            return c;
        }
    }
    return std::nullopt;
}

std::optional<std::int64_t> count_column(const ResultSet& result, std::string_view name) {
    const auto c = find_column(result, name);
    if (!c || result.rows.empty() || *c >= result.rows.front().size() || !result.rows.front()[*c]) {
        return std::nullopt;
    }
    const std::string& text = *result.rows.front()[*c];
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace pipeline
