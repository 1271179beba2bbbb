// pipeline/warehouse/postgres/copy_text.cpp: allocation-free field encoding into one growing
// buffer.
#include "pipeline/warehouse/postgres/copy_text.hpp"

#include <charconv>

#include "pipeline/core/decimal.hpp"
#include "pipeline/orders/transform.hpp"

namespace pipeline {

namespace {

void append_int(std::string& out, std::int64_t value) {
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, end);
}

void append_two_digits(std::string& out, int value) {
    out.push_back(static_cast<char>('0' + value / 10));
    out.push_back(static_cast<char>('0' + value % 10));
}

void append_date(std::string& out, CivilDate d) {
    append_two_digits(out, d.year / 100);
    append_two_digits(out, d.year % 100);
    out.push_back('-');
    append_two_digits(out, d.month);
    out.push_back('-');
    append_two_digits(out, d.day);
}

void append_timestamp(std::string& out, Timestamp ts) {
    const UtcParts p = utc_parts(ts);
    append_date(out, p.date);
    out.push_back(' ');
    append_two_digits(out, p.hour);
    out.push_back(':');
    append_two_digits(out, p.minute);
    out.push_back(':');
    append_two_digits(out, p.second);
    out.push_back('.');
    char digits[6];
    int micros = p.micros;
    for (int i = 5; i >= 0; --i) {
        digits[i] = static_cast<char>('0' + micros % 10);
        micros /= 10;
    }
    out.append(digits, 6);
    out.append("+00");
}

void append_fixed(std::string& out, std::int64_t units, int scale) {
    out += format_fixed(units, scale);
}

void tab(std::string& out) {
    out.push_back('\t');
}

void append_optional_text(std::string& out, const std::optional<std::string>& text) {
    if (text) {
        append_copy_escaped(out, *text);
    } else {
        out.append("\\N");
    }
}

}  // namespace

void append_copy_escaped(std::string& out, std::string_view text) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const char* escape = nullptr;
        switch (c) {
            case '\\':
                escape = "\\\\";
                break;
            case '\n':
                escape = "\\n";
                break;
            case '\r':
                escape = "\\r";
                break;
            case '\t':
                escape = "\\t";
                break;
            default:
                continue;
        }
        out.append(text.substr(start, i - start));
        out.append(escape);
        start = i + 1;
    }
    out.append(text.substr(start));
}

void append_copy_row(std::string& out, const OrderRow& row) {
    append_int(out, row.order_id);
    tab(out);
    append_int(out, row.customer_id);
    tab(out);
    append_copy_escaped(out, row.store_id);
    tab(out);
    append_optional_text(out, row.restaurant_id);
    for (Cents money : {row.order_amount, row.delivery_fee, row.discount_amount, row.total_value}) {
        tab(out);
        append_fixed(out, money, 2);
    }
    tab(out);
    out.append(to_string(row.status));
    tab(out);
    if (row.payment_method) {
        out.append(to_string(*row.payment_method));
    } else {
        out.append("\\N");
    }
    tab(out);
    append_optional_text(out, row.payment_status);
    tab(out);
    out.append(to_string(row.order_tier));
    tab(out);
    append_date(out, row.order_date);
    tab(out);
    append_int(out, row.order_hour);
    tab(out);
    const std::array<char, 7> month = month_text(row.order_date);
    out.append(month.data(), month.size());
    tab(out);
    if (row.delivery_minutes_tenths) {
        append_fixed(out, *row.delivery_minutes_tenths, 1);
    } else {
        out.append("\\N");
    }
    tab(out);
    if (row.cancellation_type) {
        out.append(to_string(*row.cancellation_type));
    } else {
        out.append("\\N");
    }
    tab(out);
    append_optional_text(out, row.cancellation_reason);
    tab(out);
    out.push_back(row.has_promo ? 't' : 'f');
    tab(out);
    append_optional_text(out, row.promo_code);
    for (const std::optional<Timestamp>& ts :
         {std::optional(row.created_at), std::optional(row.updated_at), row.delivered_at,
          row.cancelled_at, std::optional(row.ingested_at)}) {
        tab(out);
        if (ts) {
            append_timestamp(out, *ts);
        } else {
            out.append("\\N");
        }
    }
    out.push_back('\n');
}

DestinationTexts destination_value_texts(const OrderRow& row) {
    DestinationTexts out;
    auto text = [](auto&& append) {
        std::string value;
        append(value);
        return std::optional<std::string>(std::move(value));
    };
    auto timestamp = [&](const std::optional<Timestamp>& ts) -> std::optional<std::string> {
        if (!ts) {
            return std::nullopt;
        }
        return text([&](std::string& v) { append_timestamp(v, *ts); });
    };
    out[0] = text([&](std::string& v) { append_int(v, row.order_id); });
    out[1] = text([&](std::string& v) { append_int(v, row.customer_id); });
    out[2] = row.store_id;
    out[3] = row.restaurant_id;
    out[4] = format_fixed(row.order_amount, 2);
    out[5] = format_fixed(row.delivery_fee, 2);
    out[6] = format_fixed(row.discount_amount, 2);
    out[7] = format_fixed(row.total_value, 2);
    out[8] = std::string(to_string(row.status));
    if (row.payment_method) {
        out[9] = std::string(to_string(*row.payment_method));
    }
    out[10] = row.payment_status;
    out[11] = std::string(to_string(row.order_tier));
    out[12] = text([&](std::string& v) { append_date(v, row.order_date); });
    out[13] = text([&](std::string& v) { append_int(v, row.order_hour); });
    const std::array<char, 7> month = month_text(row.order_date);
    out[14] = std::string(month.data(), month.size());
    if (row.delivery_minutes_tenths) {
        out[15] = format_fixed(*row.delivery_minutes_tenths, 1);
    }
    if (row.cancellation_type) {
        out[16] = std::string(to_string(*row.cancellation_type));
    }
    out[17] = row.cancellation_reason;
    out[18] = row.has_promo ? "true" : "false";
    out[19] = row.promo_code;
    out[20] = timestamp(row.created_at);
    out[21] = timestamp(row.updated_at);
    out[22] = timestamp(row.delivered_at);
    out[23] = timestamp(row.cancelled_at);
    out[24] = timestamp(row.ingested_at);
    return out;
}

}  // namespace pipeline
