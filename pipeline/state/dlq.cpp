// pipeline/state/dlq.cpp: DLQ line format and the append-only writer.
#include "pipeline/state/dlq.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "pipeline/core/error.hpp"
#include "pipeline/state/atomic_file.hpp"

namespace pipeline {

std::string format_dlq_line(const SourceRow& row, std::string_view error, Timestamp rejected_at,
                            std::string_view run_id) {
    nlohmann::ordered_json fields = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < source_column_count; ++i) {
        const Field& field = row.fields[i];
        const std::string key(source_column_names[i]);
        if (!field) {
            fields[key] = nullptr;
            continue;
        }
        if (is_timestamp_column(static_cast<SourceColumn>(i))) {
            if (auto ts = parse_timestamp(*field, OffsetRule::assume_utc)) {
                fields[key] = format_timestamp(*ts);
                continue;
            }
        }
        fields[key] = std::string(*field);
    }
    nlohmann::ordered_json line;
    line["error"] = std::string(error);
    line["row"] = std::move(fields);
    line["rejected_at"] = format_timestamp(rejected_at);
    line["run_id"] = std::string(run_id);
    return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::optional<DlqEntry> parse_dlq_line(std::string_view line, std::string& why) {
    const auto doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
        why = "not a JSON object";
        return std::nullopt;
    }
    const auto text_field = [&](const char* key) -> const std::string* {
        auto it = doc.find(key);
        if (it == doc.end() || !it->is_string()) {
            why = fmt::format("\"{}\" is missing or not a string", key);
            return nullptr;
        }
        return &it->get_ref<const std::string&>();
    };
    DlqEntry entry;
    const std::string* error = text_field("error");
    const std::string* rejected_at = error != nullptr ? text_field("rejected_at") : nullptr;
    const std::string* run_id = rejected_at != nullptr ? text_field("run_id") : nullptr;
    if (run_id == nullptr) {
        return std::nullopt;  // `why` names the first missing field
    }
    entry.error = *error;
    entry.run_id = *run_id;
    auto when = parse_timestamp(*rejected_at, OffsetRule::required);
    if (!when) {
        why = "\"rejected_at\" is not an ISO-8601 timestamp with an offset";
        return std::nullopt;
    }
    entry.rejected_at = *when;
    auto row = doc.find("row");
    if (row == doc.end() || !row->is_object()) {
        why = "\"row\" is missing or not an object";
        return std::nullopt;
    }
    for (std::size_t i = 0; i < source_column_count; ++i) {
        const std::string key(source_column_names[i]);
        auto value = row->find(key);
        if (value == row->end()) {
            why = fmt::format("\"row\" has no column \"{}\"", key);
            return std::nullopt;
        }
        if (value->is_string()) {
            entry.row[i] = value->get<std::string>();
        } else if (!value->is_null()) {
            why = fmt::format("\"row\".\"{}\" is neither text nor null", key);
            return std::nullopt;
        }
    }
    return entry;
}

DlqWriter::DlqWriter(std::filesystem::path dir, std::string_view pipeline, std::string_view run_id)
    : dir_(std::move(dir)), path_(dir_ / fmt::format("{}_{}.ndjson", pipeline, run_id)) {}

DlqWriter::DlqWriter(DlqWriter&& other) noexcept
    : dir_(std::move(other.dir_)),
      path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)),
      fd_(std::exchange(other.fd_, -1)),
      lines_(other.lines_) {}

DlqWriter::~DlqWriter() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

void DlqWriter::append(std::string line) {
    buffer_ += line;
    ++lines_;
}

void DlqWriter::flush() {
    if (buffer_.empty()) {
        return;
    }
    if (fd_ < 0) {
        ensure_directory(dir_, "DLQ");
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd_ < 0) {
            throw Error(ErrorKind::io, fmt::format("cannot create DLQ file {}: {}", path_.string(),
                                                   std::strerror(errno)));
        }
    }
    std::size_t written = 0;
    while (written < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw Error(ErrorKind::io, fmt::format("cannot write DLQ file {}: {}", path_.string(),
                                                   std::strerror(errno)));
        }
        written += static_cast<std::size_t>(n);
    }
    buffer_.clear();
}

void DlqWriter::close() {
    flush();
    if (fd_ < 0) {
        return;
    }
    const int fd = std::exchange(fd_, -1);
    const bool synced = ::fsync(fd) == 0;
    const int sync_errno = errno;
    if (::close(fd) != 0 || !synced) {
        throw Error(ErrorKind::io, fmt::format("cannot make DLQ file {} durable: {}",
                                               path_.string(), std::strerror(sync_errno)));
    }
    fsync_directory(dir_);
}

std::vector<DlqFileInfo> list_dlq_files(const std::filesystem::path& dir,
                                        std::string_view pipeline) {
    std::vector<DlqFileInfo> files;
    const std::string prefix = std::string(pipeline) + "_";
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        const bool replayed = name.find(".ndjson.replayed.") != std::string::npos;
        if (!name.starts_with(prefix) || (!name.ends_with(".ndjson") && !replayed)) {
            continue;
        }
        std::optional<std::string> text;
        try {
            text = read_file_if_exists(entry.path());
        } catch (const std::exception&) {
            text.reset();
        }
        const auto rows =
            text ? static_cast<std::size_t>(std::count(text->begin(), text->end(), '\n')) : 0;
        files.push_back({entry.path(), rows, replayed});
    }
    std::sort(files.begin(), files.end(),
              [](const DlqFileInfo& a, const DlqFileInfo& b) { return a.path < b.path; });
    return files;
}

}  // namespace pipeline
