// pipeline/warehouse/postgres/copy_binary.cpp: binary COPY fields, written straight into one
// growing buffer.
#include "pipeline/warehouse/postgres/copy_binary.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

namespace pipeline {

namespace {

// PostgreSQL's epoch for date and timestamp: 2000-01-01, 10,957 days after 1970-01-01.
constexpr std::int64_t pg_epoch_days = 10'957;
constexpr std::int64_t pg_epoch_micros = pg_epoch_days * micros_per_day;

/// Writes big-endian fields through a raw cursor into space the caller reserved.
class FieldWriter {
public:
    explicit FieldWriter(char* at) : at_(at) {}
    char* at() const { return at_; }

    void byte(char v) { *at_++ = v; }
    void u16(std::uint16_t v) {
        at_[0] = static_cast<char>(v >> 8);
        at_[1] = static_cast<char>(v);
        at_ += 2;
    }
    void u32(std::uint32_t v) {
        u16(static_cast<std::uint16_t>(v >> 16));
        u16(static_cast<std::uint16_t>(v));
    }
    void u64(std::uint64_t v) {
        u32(static_cast<std::uint32_t>(v >> 32));
        u32(static_cast<std::uint32_t>(v));
    }
    void null() { u32(0xFFFFFFFFU); }
    void int8(std::int64_t v) {
        u32(8);
        u64(static_cast<std::uint64_t>(v));
    }
    void text(std::string_view v) {
        u32(static_cast<std::uint32_t>(v.size()));
        std::memcpy(at_, v.data(), v.size());
        at_ += v.size();
    }
    void text(const std::optional<std::string>& v) {
        if (v) {
            text(std::string_view(*v));
        } else {
            null();
        }
    }
    void timestamp(const std::optional<Timestamp>& ts) {
        if (ts) {
            int8(ts->micros - pg_epoch_micros);
        } else {
            null();
        }
    }
    /// The binary numeric of `units` / 10^`scale` (scale 0..4), length-prefixed
    /// when `with_length`: digit count, weight, sign, display scale, base-10000
    /// digits, most significant first (the whole part's groups, then one
    /// fractional group, left-aligned). A zero has no digits; trailing zero
    /// groups are allowed (the server strips them).
    void numeric(std::int64_t units, int scale, bool with_length) {
        constexpr std::uint16_t positive = 0x0000;
        constexpr std::uint16_t negative = 0x4000;
        constexpr std::array<std::uint64_t, 5> pow10 = {1, 10, 100, 1'000, 10'000};
        const std::uint64_t unit = pow10[static_cast<std::size_t>(scale)];
        // |units| without overflow for INT64_MIN (money is bounded far below it anyway).
        const std::uint64_t magnitude =
            units < 0 ? 0 - static_cast<std::uint64_t>(units) : static_cast<std::uint64_t>(units);
        std::uint64_t whole = magnitude / unit;
        const std::uint64_t fraction = magnitude % unit;
        std::array<std::uint16_t, 5> reversed{};  // 10^20 > 2^64: five groups suffice
        int whole_groups = 0;
        while (whole > 0) {
            reversed[static_cast<std::size_t>(whole_groups++)] =
                static_cast<std::uint16_t>(whole % 10'000);
            whole /= 10'000;
        }
        const int count = whole_groups + (fraction != 0 ? 1 : 0);
        if (with_length) {
            u32(static_cast<std::uint32_t>(8 + 2 * count));
        }
        u16(static_cast<std::uint16_t>(count));
        u16(static_cast<std::uint16_t>(static_cast<std::int16_t>(whole_groups - 1)));
        u16(units < 0 ? negative : positive);
        u16(static_cast<std::uint16_t>(scale));
        for (int i = whole_groups - 1; i >= 0; --i) {
            u16(reversed[static_cast<std::size_t>(i)]);
        }
        if (fraction != 0) {
            u16(static_cast<std::uint16_t>(fraction * (10'000 / unit)));
        }
    }

private:
    char* at_;
};

// The most a binary numeric takes: length, 4 header words, 5 + 1 digits.
constexpr std::size_t max_numeric_field = 4 + 8 + 2 * 6;

std::size_t text_size(const std::optional<std::string>& v) {
    return v ? v->size() : 0;
}

/// Runs `write` on a FieldWriter over `bound` bytes appended to `out`, then
/// trims `out` to what was written.
template <class Write>
void write_bounded(std::string& out, std::size_t bound, Write&& write) {
    const std::size_t start = out.size();
    out.resize(start + bound);
    FieldWriter w(out.data() + start);
    write(w);
    const auto end = static_cast<std::size_t>(w.at() - out.data());
    if (end > start + bound) {
        std::abort();  // a wrong bound is a bug that has already written out of bounds
    }
    out.resize(end);
}

}  // namespace

void append_numeric_binary(std::string& out, std::int64_t units, int scale) {
    write_bounded(out, max_numeric_field, [&](FieldWriter& w) { w.numeric(units, scale, false); });
}

void append_copy_binary_header(std::string& out) {
    constexpr std::string_view signature("PGCOPY\n\377\r\n\0", 11);
    out.append(signature);
    write_bounded(out, 8, [](FieldWriter& w) {
        w.u32(0);  // flags: no OIDs
        w.u32(0);  // header extension length
    });
}

void append_copy_binary_trailer(std::string& out) {
    write_bounded(out, 2, [](FieldWriter& w) { w.u16(0xFFFFU); });
}

void append_copy_binary_row(std::string& out, const OrderRow& row) {
    // Field count, 25 lengths, the fixed-size values, five numerics, and the
    // texts of the closed sets (tier and cancellation type at most 8 bytes,
    // status and payment method at most 10, order_month 7), plus the free texts.
    constexpr std::size_t fixed =
        2 + 25 * 4 + 2 * 8 + 5 * max_numeric_field + 4 + 2 + 1 + 5 * 8 + 2 * 8 + 2 * 10 + 7;
    const std::size_t bound = fixed + row.store_id.size() + text_size(row.restaurant_id) +
                              text_size(row.payment_status) + text_size(row.cancellation_reason) +
                              text_size(row.promo_code);
    write_bounded(out, bound, [&](FieldWriter& w) {
        w.u16(static_cast<std::uint16_t>(destination_column_names.size()));
        w.int8(row.order_id);
        w.int8(row.customer_id);
        w.text(std::string_view(row.store_id));
        w.text(row.restaurant_id);
        w.numeric(row.order_amount, 2, true);
        w.numeric(row.delivery_fee, 2, true);
        w.numeric(row.discount_amount, 2, true);
        w.numeric(row.total_value, 2, true);
        w.text(to_string(row.status));
        if (row.payment_method) {
            w.text(to_string(*row.payment_method));
        } else {
            w.null();
        }
        w.text(row.payment_status);
        w.text(to_string(row.order_tier));
        w.u32(4);
        w.u32(static_cast<std::uint32_t>(days_from_civil(row.order_date) - pg_epoch_days));
        w.u32(2);
        w.u16(static_cast<std::uint16_t>(row.order_hour));
        const std::array<char, 7> month = month_text(row.order_date);
        w.text(std::string_view(month.data(), month.size()));
        if (row.delivery_minutes_tenths) {
            w.numeric(*row.delivery_minutes_tenths, 1, true);
        } else {
            w.null();
        }
        if (row.cancellation_type) {
            w.text(to_string(*row.cancellation_type));
        } else {
            w.null();
        }
        w.text(row.cancellation_reason);
        w.u32(1);
        w.byte(row.has_promo ? '\1' : '\0');
        w.text(row.promo_code);
        w.timestamp(row.created_at);
        w.timestamp(row.updated_at);
        w.timestamp(row.delivered_at);
        w.timestamp(row.cancelled_at);
        w.timestamp(row.ingested_at);
    });
}

}  // namespace pipeline
