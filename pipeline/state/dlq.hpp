// pipeline/state/dlq.hpp: the dead-letter file, one NDJSON line per rejected row (spec §7).
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/core/timestamp.hpp"
#include "pipeline/orders/order_row.hpp"

namespace pipeline {

/// One DLQ line (with its newline): {"error", "row" (all 17 source columns,
/// NULL as null, text as the source's text, timestamps re-written as ISO-8601
/// UTC), "rejected_at", "run_id"}. Invalid UTF-8 bytes become U+FFFD so the
/// line is always valid JSON. Pure.
std::string format_dlq_line(const SourceRow& row, std::string_view error, Timestamp rejected_at,
                            std::string_view run_id);

/// One DLQ line read back: what replay needs.
struct DlqEntry {
    std::string error;
    std::array<std::optional<std::string>, source_column_count> row;  ///< by SourceColumn
    Timestamp rejected_at;
    std::string run_id;
};

/// Parses one DLQ line (without or with its newline). nullopt with `why`
/// when it is not a JSON object, a field is missing or of the wrong type, a
/// source column is missing from "row", or rejected_at is not an ISO-8601
/// timestamp with an offset. Unknown keys are ignored. Pure; never throws.
std::optional<DlqEntry> parse_dlq_line(std::string_view line, std::string& why);

/// One DLQ file of a pipeline in the DLQ directory.
struct DlqFileInfo {
    std::filesystem::path path;
    std::size_t rows = 0;   ///< lines
    bool replayed = false;  ///< renamed `<file>.replayed.<run id>` by `dlq replay`
};

/// The pipeline's DLQ files (`<pipeline>_*.ndjson`, replayed or not) in
/// `dir`, sorted by name; empty when `dir` does not exist. Unreadable files
/// count 0 rows.
std::vector<DlqFileInfo> list_dlq_files(const std::filesystem::path& dir,
                                        std::string_view pipeline);

/// Appends lines to `<dir>/<pipeline>_<run_id>.ndjson`, creating the file on
/// the first line (a run without rejections leaves no file). Move-only. The
/// destructor closes without reporting; `close()` makes the lines durable
/// (fsync of file and directory) and throws Error(io) on failure.
class DlqWriter {
public:
    DlqWriter(std::filesystem::path dir, std::string_view pipeline, std::string_view run_id);
    DlqWriter(const DlqWriter&) = delete;
    DlqWriter& operator=(const DlqWriter&) = delete;
    DlqWriter(DlqWriter&& other) noexcept;
    DlqWriter& operator=(DlqWriter&&) = delete;
    ~DlqWriter();

    /// Buffers one line; written out by flush() or close().
    void append(std::string line);
    /// Writes the buffered lines to the file (no fsync).
    void flush();
    /// flush() + fsync + close. Idempotent.
    void close();

    const std::filesystem::path& path() const noexcept { return path_; }
    std::size_t lines_written() const noexcept { return lines_; }

private:
    std::filesystem::path dir_;
    std::filesystem::path path_;
    std::string buffer_;
    int fd_ = -1;
    std::size_t lines_ = 0;
};

}  // namespace pipeline
