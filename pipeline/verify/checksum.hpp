// pipeline/verify/checksum.hpp: the tool's side of verify: the orders rows' canonical text, md5
// buckets and their sums, computed exactly as compare_sql.hpp makes the warehouses compute them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/config/config.hpp"
#include "pipeline/orders/order_row.hpp"
#include "pipeline/warehouse/compare_sql.hpp"

namespace pipeline {

/// The orders destination table as verify compares it: key order_id, cursor
/// updated_at, and (deep) every other loaded column but ingested_at.
TableShape orders_shape(const DestinationConfig& destination);

/// Appends the canonical row text of `row` (see compare_sql.hpp): the key,
/// updated_at's microseconds and, with `deep`, the other compared columns in
/// destination order. Pure.
void append_canonical_text(const OrderRow& row, bool deep, std::string& out);

/// md5 of `text`. Pure.
std::array<unsigned char, 16> md5_of(std::string_view text);
/// Lower-case hex of a digest.
std::string hex_of(const std::array<unsigned char, 16>& digest);
/// The upper 64 bits of a digest, big-endian (Snowflake's MD5_NUMBER_UPPER64).
std::uint64_t upper_64(const std::array<unsigned char, 16>& digest) noexcept;
/// Row counts and hash sums per leaf bucket (compare_sql.hpp; 65,536 of them,
/// 1 MiB): a coarse bucket's are the sums of its leaves'.
class BucketTable {
public:
    BucketTable();
    void add(std::int64_t key, std::uint64_t hash) noexcept;
    /// Adds a row whose leaf bucket is already known (0..65535).
    void add_in(std::int64_t leaf, std::uint64_t hash) noexcept;
    /// The (rows, sum) of one leaf bucket.
    std::pair<std::int64_t, std::uint64_t> leaf(std::int64_t bucket) const;
    /// The (rows, sum) of one coarse bucket: of every leaf b with b mod coarse_buckets = bucket.
    std::pair<std::int64_t, std::uint64_t> coarse(std::int64_t bucket) const;
    std::int64_t rows() const noexcept { return rows_; }

private:
    std::vector<std::int64_t> counts_;
    std::vector<std::uint64_t> sums_;
    std::int64_t rows_ = 0;
};

}  // namespace pipeline
