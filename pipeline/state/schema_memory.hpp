// pipeline/state/schema_memory.hpp: which destination DDL a pipeline has already ensured, so a
// tick does not send it again.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace pipeline {

/// `<dir>/<pipeline>.schema.json` holds the fingerprint of the last DDL the
/// pipeline ensured (the destination's name and the statements' text, so a
/// new schema version or another destination does not match). On Snowflake,
/// where every statement is an HTTPS request, a tick whose fingerprint
/// matches skips the CREATE ... IF NOT EXISTS statements and the stale-staging
/// sweep. A missing or unreadable file just means "not remembered": the DDL
/// is sent again, which is always safe.
class SchemaMemory {
public:
    SchemaMemory(std::filesystem::path dir, std::string pipeline);

    /// True when the file holds `fingerprint`. Never throws.
    bool remembers(std::string_view fingerprint) const noexcept;
    /// Writes `fingerprint` atomically; throws Error(io).
    void remember(std::string_view fingerprint) const;
    /// Removes the file (best effort): the next start sends the DDL again.
    void forget() const noexcept;

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path dir_;
    std::filesystem::path path_;
};

/// A 64-bit FNV-1a fingerprint of `text`, as 16 hex digits. Pure.
std::string fingerprint_of(std::string_view text);

}  // namespace pipeline
