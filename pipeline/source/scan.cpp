// pipeline/source/scan.cpp: a COPY TO STDOUT pass, decoded in place.
#include "pipeline/source/scan.hpp"

#include <fmt/format.h>

#include <cstring>

#include "pipeline/core/error.hpp"

namespace pipeline {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// Decodes the escapes of [from, end) onto `to` (never ahead of `from`); returns the new end.
char* unescape(char* from, char* end, char* to) {
    while (from < end) {
        const char c = *from++;
        if (c != '\\' || from == end) {
            *to++ = c;
            continue;
        }
        const char e = *from++;
        switch (e) {
            case 'b':
                *to++ = '\b';
                break;
            case 'f':
                *to++ = '\f';
                break;
            case 'n':
                *to++ = '\n';
                break;
            case 'r':
                *to++ = '\r';
                break;
            case 't':
                *to++ = '\t';
                break;
            case 'v':
                *to++ = '\v';
                break;
            case 'x': {
                int value = 0;
                int digits = 0;
                while (digits < 2 && from < end && hex_value(*from) >= 0) {
                    value = value * 16 + hex_value(*from++);
                    ++digits;
                }
                *to++ = digits == 0 ? 'x' : static_cast<char>(value);
                break;
            }
            default:
                if (e >= '0' && e <= '7') {
                    int value = e - '0';
                    for (int digits = 1; digits < 3 && from < end && *from >= '0' && *from <= '7';
                         ++digits) {
                        value = value * 8 + (*from++ - '0');
                    }
                    *to++ = static_cast<char>(value);
                } else {
                    *to++ = e;  // "\\" and any other escaped character stand for themselves
                }
        }
    }
    return to;
}

}  // namespace

std::string source_column_list() {
    std::string out;
    for (std::size_t i = 0; i < source_column_count; ++i) {
        out += fmt::format("{}s.{}::text", i == 0 ? "" : ", ", source_column_names[i]);
    }
    return out;
}

bool split_copy_line(char* line, int length, SourceRow& row) {
    char* end = line + length;
    if (length > 0 && end[-1] == '\n') {
        --end;
    }
    std::size_t column = 0;
    char* start = line;
    while (true) {
        char* tab =
            static_cast<char*>(std::memchr(start, '\t', static_cast<std::size_t>(end - start)));
        char* field_end = tab != nullptr ? tab : end;
        if (column == source_column_count) {
            return false;
        }
        if (field_end - start == 2 && start[0] == '\\' && start[1] == 'N') {
            row.fields[column] = std::nullopt;
        } else if (std::memchr(start, '\\', static_cast<std::size_t>(field_end - start)) ==
                   nullptr) {
            row.fields[column] =
                std::string_view(start, static_cast<std::size_t>(field_end - start));
        } else {
            char* decoded_end = unescape(start, field_end, start);
            row.fields[column] =
                std::string_view(start, static_cast<std::size_t>(decoded_end - start));
        }
        ++column;
        if (tab == nullptr) {
            break;
        }
        start = tab + 1;
    }
    return column == source_column_count;
}

SourceScan::SourceScan(PgConnection& source, const SqlIdentifier& schema,
                       const SqlIdentifier& table, const std::string& where, std::size_t batch_rows)
    : source_(source), batch_rows_(batch_rows) {
    source_.begin_copy_out(fmt::format("COPY (SELECT {} FROM {}.{} AS s WHERE {}) TO STDOUT",
                                       source_column_list(), schema.str(), table.str(), where),
                           fmt::format("[COPY scan {}.{}]", schema.str(), table.str()));
}

std::optional<ScanBatch> SourceScan::next() {
    if (done_) {
        return std::nullopt;
    }
    ScanBatch batch;
    batch.lines.reserve(batch_rows_);
    batch.rows.reserve(batch_rows_);
    while (batch.lines.size() < batch_rows_) {
        std::optional<CopyLine> line = source_.read_copy_line();
        if (!line) {
            done_ = true;
            break;
        }
        SourceRow& row = batch.rows.emplace_back();
        if (!split_copy_line(line->data.get(), line->length, row)) {
            throw Error(ErrorKind::source,
                        fmt::format("[COPY scan] a row did not have the {} columns asked for",
                                    source_column_count));
        }
        batch.lines.push_back(std::move(*line));
    }
    if (batch.rows.empty()) {
        return std::nullopt;
    }
    return batch;
}

}  // namespace pipeline
