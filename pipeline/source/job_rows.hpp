// pipeline/source/job_rows.hpp: a batch of a declared job's rows in binary format, borrowed from
// the libpq results they were fetched in (no copy, no per-field allocation).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "pipeline/runtime/pg_connection.hpp"

namespace pipeline {

class JobRows {
public:
    struct Ref {
        std::uint32_t part = 0;  ///< which result
        int row = 0;             ///< its row
    };

    /// Keeps `result` alive; returns its part number for Refs.
    std::uint32_t add_part(PgResult result) {
        parts_.push_back(std::move(result));
        return static_cast<std::uint32_t>(parts_.size() - 1);
    }
    void add(Ref ref) { rows_.push_back(ref); }
    std::vector<Ref>& refs() noexcept { return rows_; }
    const std::vector<Ref>& refs() const noexcept { return rows_; }

    std::size_t size() const noexcept { return rows_.size(); }
    bool empty() const noexcept { return rows_.empty(); }
    /// Row `i`'s column `c` (binary; nullopt is NULL).
    std::optional<std::string_view> field(std::size_t i, std::size_t c) const {
        const Ref& r = rows_[i];
        return parts_[r.part].field(r.row, static_cast<int>(c));
    }
    std::optional<std::string_view> field(Ref r, std::size_t c) const {
        return parts_[r.part].field(r.row, static_cast<int>(c));
    }

private:
    std::vector<PgResult> parts_;
    std::vector<Ref> rows_;
};

}  // namespace pipeline
