// pipeline/state/schema_memory.cpp: the remembered DDL fingerprint, one small JSON file.
#include "pipeline/state/schema_memory.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "pipeline/core/timestamp.hpp"
#include "pipeline/state/atomic_file.hpp"

namespace pipeline {

std::string fingerprint_of(std::string_view text) {
    std::uint64_t hash = 14695981039346656037ULL;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    return fmt::format("{:016x}", hash);
}

SchemaMemory::SchemaMemory(std::filesystem::path dir, std::string pipeline)
    : dir_(std::move(dir)), path_(dir_ / (pipeline + ".schema.json")) {}

bool SchemaMemory::remembers(std::string_view fingerprint) const noexcept {
    try {
        const auto text = read_file_if_exists(path_);
        if (!text) {
            return false;
        }
        const auto doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
        const auto it = doc.is_object() ? doc.find("fingerprint") : doc.end();
        return it != doc.end() && it->is_string() && it->get<std::string>() == fingerprint;
    } catch (const std::exception&) {
        return false;
    }
}

void SchemaMemory::remember(std::string_view fingerprint) const {
    ensure_directory(dir_, "checkpoint");
    nlohmann::ordered_json doc;
    doc["version"] = 1;
    doc["fingerprint"] = fingerprint;
    doc["ensured_at"] = format_timestamp(now_utc());
    write_file_atomically(path_, doc.dump() + "\n");
}

void SchemaMemory::forget() const noexcept {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
}

}  // namespace pipeline
