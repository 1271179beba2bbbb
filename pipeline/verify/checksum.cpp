// pipeline/verify/checksum.cpp: canonical row texts of orders rows, md5 and bucket sums.
#include "pipeline/verify/checksum.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <charconv>

#include "pipeline/core/decimal.hpp"
#include "pipeline/core/error.hpp"
#include "pipeline/warehouse/postgres/merge_sql.hpp"

namespace pipeline {

namespace {

constexpr std::size_t order_id_column = 0;
constexpr std::size_t updated_at_column = 21;
constexpr std::size_t ingested_at_column = 24;

ColumnKind kind_of_pg_type(std::string_view type) {
    if (type == "bigint" || type == "smallint") {
        return ColumnKind::integer;
    }
    if (type == "numeric") {
        return ColumnKind::decimal;
    }
    if (type == "boolean") {
        return ColumnKind::boolean;
    }
    if (type == "date") {
        return ColumnKind::date;
    }
    if (type == "timestamp with time zone") {
        return ColumnKind::timestamp;
    }
    return ColumnKind::text;
}

void append_integer(std::string& out, std::int64_t value) {
    std::array<char, 24> digits{};
    const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), value);
    out.append(digits.data(), end);
}

void append_text(std::string& out, std::string_view text) {
    std::int64_t characters = 0;
    for (const char c : text) {
        characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;  // UTF-8 lead bytes
    }
    append_integer(out, characters);
    out += ':';
    out += text;
}

void append_optional_text(std::string& out, const std::optional<std::string>& text) {
    if (text) {
        append_text(out, *text);
    } else {
        out += 'N';
    }
}

void append_micros(std::string& out, const std::optional<Timestamp>& ts) {
    if (ts) {
        append_integer(out, ts->micros);
    } else {
        out += 'N';
    }
}

// Column `i` (destination order) of `row` in its canonical form.
void append_column(std::string& out, const OrderRow& row, std::size_t i) {
    switch (i) {
        case 1:
            append_integer(out, row.customer_id);
            return;
        case 2:
            append_text(out, row.store_id);
            return;
        case 3:
            append_optional_text(out, row.restaurant_id);
            return;
        case 4:
            out += format_fixed(row.order_amount, 2);
            return;
        case 5:
            out += format_fixed(row.delivery_fee, 2);
            return;
        case 6:
            out += format_fixed(row.discount_amount, 2);
            return;
        case 7:
            out += format_fixed(row.total_value, 2);
            return;
        case 8:
            append_text(out, to_string(row.status));
            return;
        case 9:
            if (row.payment_method) {
                append_text(out, to_string(*row.payment_method));
            } else {
                out += 'N';
            }
            return;
        case 10:
            append_optional_text(out, row.payment_status);
            return;
        case 11:
            append_text(out, to_string(row.order_tier));
            return;
        case 12:
            out += format_date(row.order_date);
            return;
        case 13:
            append_integer(out, row.order_hour);
            return;
        case 14: {
            const auto month = month_text(row.order_date);
            append_text(out, std::string_view(month.data(), month.size()));
            return;
        }
        case 15:
            if (row.delivery_minutes_tenths) {
                out += format_fixed(*row.delivery_minutes_tenths, 1);
            } else {
                out += 'N';
            }
            return;
        case 16:
            if (row.cancellation_type) {
                append_text(out, to_string(*row.cancellation_type));
            } else {
                out += 'N';
            }
            return;
        case 17:
            append_optional_text(out, row.cancellation_reason);
            return;
        case 18:
            out += row.has_promo ? "true" : "false";
            return;
        case 19:
            append_optional_text(out, row.promo_code);
            return;
        case 20:
            append_micros(out, row.created_at);
            return;
        case 22:
            append_micros(out, row.delivered_at);
            return;
        case 23:
            append_micros(out, row.cancelled_at);
            return;
        default:
            throw Error(ErrorKind::internal,
                        fmt::format("verify: no canonical form of column {}", i));
    }
}

}  // namespace

TableShape orders_shape(const DestinationConfig& destination) {
    TableShape shape;
    shape.schema = destination.schema;
    shape.table = destination.table;
    shape.key = {std::string(destination_column_names[order_id_column]), ColumnKind::integer};
    shape.cursor = destination_column_names[updated_at_column];
    for (std::size_t i = 0; i < destination_column_names.size(); ++i) {
        if (i != order_id_column && i != updated_at_column && i != ingested_at_column) {
            shape.deep.push_back({std::string(destination_column_names[i]),
                                  kind_of_pg_type(pg_destination_column_types[i])});
        }
    }
    return shape;
}

void append_canonical_text(const OrderRow& row, bool deep, std::string& out) {
    append_integer(out, row.order_id);
    out += '|';
    append_integer(out, row.updated_at.micros);
    if (!deep) {
        return;
    }
    for (std::size_t i = 0; i < destination_column_names.size(); ++i) {
        if (i != order_id_column && i != updated_at_column && i != ingested_at_column) {
            out += '|';
            append_column(out, row, i);
        }
    }
}

std::array<unsigned char, 16> md5_of(std::string_view text) {
    // Fetched once: an implicit fetch per call takes a lock each time (a million rows: 10% CPU).
    static EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
    std::array<unsigned char, 16> digest{};
    unsigned int length = 0;
    if (md5 == nullptr ||
        EVP_Digest(text.data(), text.size(), digest.data(), &length, md5, nullptr) != 1) {
        throw Error(ErrorKind::internal, "md5 failed");
    }
    return digest;
}

std::string hex_of(const std::array<unsigned char, 16>& digest) {
    std::string out;
    out.reserve(32);
    for (const unsigned char b : digest) {
        out += fmt::format("{:02x}", b);
    }
    return out;
}

std::uint64_t upper_64(const std::array<unsigned char, 16>& digest) noexcept {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        value = value << 8 | digest[i];
    }
    return value;
}

BucketTable::BucketTable() : counts_(leaf_buckets, 0), sums_(leaf_buckets, 0) {}

void BucketTable::add(std::int64_t key, std::uint64_t hash) noexcept {
    add_in(bucket_of(key, leaf_buckets), hash);
}

void BucketTable::add_in(std::int64_t leaf, std::uint64_t hash) noexcept {
    const auto b = static_cast<std::size_t>(bucket_of(leaf, leaf_buckets));
    ++counts_[b];
    sums_[b] += hash;  // modulo 2^64, like the warehouses' sums
    ++rows_;
}

std::pair<std::int64_t, std::uint64_t> BucketTable::leaf(std::int64_t bucket) const {
    const auto b = static_cast<std::size_t>(bucket);
    return {counts_.at(b), sums_.at(b)};
}

std::pair<std::int64_t, std::uint64_t> BucketTable::coarse(std::int64_t bucket) const {
    std::int64_t rows = 0;
    std::uint64_t sum = 0;
    for (std::int64_t b = bucket; b < leaf_buckets; b += coarse_buckets) {
        rows += counts_[static_cast<std::size_t>(b)];
        sum += sums_[static_cast<std::size_t>(b)];
    }
    return {rows, sum};
}

}  // namespace pipeline
