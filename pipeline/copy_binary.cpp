// pipeline/copy_binary.cpp: binary COPY fields, written straight into one growing buffer.
#include "pipeline/copy_binary.hpp"

#include <array>
#include <cstdint>
#include <string_view>

namespace pipeline {

namespace {

// PostgreSQL's epoch for date and timestamp: 2000-01-01, 10,957 days after 1970-01-01.
constexpr std::int64_t pg_epoch_days = 10'957;
constexpr std::int64_t pg_epoch_micros = pg_epoch_days * micros_per_day;

void put16(std::string& out, std::uint16_t v) {
    const std::array<char, 2> b = {static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b.data(), b.size());
}

void put32(std::string& out, std::uint32_t v) {
    const std::array<char, 4> b = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                                   static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b.data(), b.size());
}

void put64(std::string& out, std::uint64_t v) {
    put32(out, static_cast<std::uint32_t>(v >> 32));
    put32(out, static_cast<std::uint32_t>(v));
}

void null_field(std::string& out) {
    put32(out, 0xFFFFFFFFU);
}

void int8_field(std::string& out, std::int64_t v) {
    put32(out, 8);
    put64(out, static_cast<std::uint64_t>(v));
}

void text_field(std::string& out, std::string_view text) {
    put32(out, static_cast<std::uint32_t>(text.size()));
    out.append(text);
}

void text_field(std::string& out, const std::optional<std::string>& text) {
    if (text) {
        text_field(out, std::string_view(*text));
    } else {
        null_field(out);
    }
}

void numeric_field(std::string& out, std::int64_t units, int scale) {
    const std::size_t length_at = out.size();
    put32(out, 0);  // patched below
    append_numeric_binary(out, units, scale);
    const auto length = static_cast<std::uint32_t>(out.size() - length_at - 4);
    for (int i = 0; i < 4; ++i) {
        out[length_at + static_cast<std::size_t>(i)] = static_cast<char>(length >> (24 - 8 * i));
    }
}

void timestamp_field(std::string& out, const std::optional<Timestamp>& ts) {
    if (ts) {
        int8_field(out, ts->micros - pg_epoch_micros);
    } else {
        null_field(out);
    }
}

}  // namespace

void append_numeric_binary(std::string& out, std::int64_t units, int scale) {
    constexpr std::uint16_t positive = 0x0000;
    constexpr std::uint16_t negative = 0x4000;
    std::int64_t pow10 = 1;
    for (int i = 0; i < scale; ++i) {
        pow10 *= 10;
    }
    // |units| without overflow for INT64_MIN (money is bounded far below it anyway).
    const std::uint64_t magnitude =
        units < 0 ? 0 - static_cast<std::uint64_t>(units) : static_cast<std::uint64_t>(units);
    std::uint64_t whole = magnitude / static_cast<std::uint64_t>(pow10);
    const std::uint64_t fraction = magnitude % static_cast<std::uint64_t>(pow10);
    // Base-10000 digits, most significant first: the whole part's groups, then
    // one fractional group (scale <= 4 fits in it, left-aligned).
    std::array<std::uint16_t, 6> digits{};
    int whole_groups = 0;
    std::array<std::uint16_t, 5> reversed{};
    while (whole > 0) {
        reversed[static_cast<std::size_t>(whole_groups++)] =
            static_cast<std::uint16_t>(whole % 10'000);
        whole /= 10'000;
    }
    int count = 0;
    for (int i = whole_groups - 1; i >= 0; --i) {
        digits[static_cast<std::size_t>(count++)] = reversed[static_cast<std::size_t>(i)];
    }
    if (fraction != 0) {
        digits[static_cast<std::size_t>(count++)] =
            static_cast<std::uint16_t>(fraction * static_cast<std::uint64_t>(10'000 / pow10));
    }
    // A zero has no digits; trailing zero groups are allowed (the server strips them).
    const int weight = whole_groups - 1;
    put16(out, static_cast<std::uint16_t>(count));
    put16(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(weight)));
    put16(out, units < 0 ? negative : positive);
    put16(out, static_cast<std::uint16_t>(scale));
    for (int i = 0; i < count; ++i) {
        put16(out, digits[static_cast<std::size_t>(i)]);
    }
}

void append_copy_binary_header(std::string& out) {
    constexpr std::string_view signature("PGCOPY\n\377\r\n\0", 11);
    out.append(signature);
    put32(out, 0);  // flags: no OIDs
    put32(out, 0);  // header extension length
}

void append_copy_binary_trailer(std::string& out) {
    put16(out, 0xFFFFU);
}

void append_copy_binary_row(std::string& out, const OrderRow& row) {
    put16(out, static_cast<std::uint16_t>(destination_column_names.size()));
    int8_field(out, row.order_id);
    int8_field(out, row.customer_id);
    text_field(out, std::string_view(row.store_id));
    text_field(out, row.restaurant_id);
    for (Cents money : {row.order_amount, row.delivery_fee, row.discount_amount, row.total_value}) {
        numeric_field(out, money, 2);
    }
    text_field(out, std::string_view(row.status));
    text_field(out, row.payment_method);
    text_field(out, row.payment_status);
    text_field(out, to_string(row.order_tier));
    put32(out, 4);
    put32(out, static_cast<std::uint32_t>(days_from_civil(row.order_date) - pg_epoch_days));
    put32(out, 2);
    put16(out, static_cast<std::uint16_t>(row.order_hour));
    text_field(out, std::string_view(row.order_month));
    if (row.delivery_minutes_tenths) {
        numeric_field(out, *row.delivery_minutes_tenths, 1);
    } else {
        null_field(out);
    }
    if (row.cancellation_type) {
        text_field(out, to_string(*row.cancellation_type));
    } else {
        null_field(out);
    }
    text_field(out, row.cancellation_reason);
    put32(out, 1);
    out.push_back(row.has_promo ? '\1' : '\0');
    text_field(out, row.promo_code);
    timestamp_field(out, row.created_at);
    timestamp_field(out, row.updated_at);
    timestamp_field(out, row.delivered_at);
    timestamp_field(out, row.cancelled_at);
    timestamp_field(out, row.ingested_at);
}

}  // namespace pipeline
