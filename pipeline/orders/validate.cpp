// pipeline/orders/validate.cpp: the spec §4 rules, in their order.
#include "pipeline/orders/validate.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "pipeline/core/decimal.hpp"
#include "pipeline/core/unicode.hpp"

namespace pipeline {

namespace {

Rejection reject(RejectReason reason, std::string detail) {
    return Rejection{reason, fmt::format("{}: {}", to_string(reason), detail)};
}

// Copies a nullable field into `out` in place (one copy, no temporary).
void assign(std::optional<std::string>& out, const Field& field) {
    if (field) {
        out.emplace(*field);
    } else {
        out.reset();
    }
}

// Shortens hostile or huge values quoted in messages; the DLQ row keeps the full text.
std::string quoted(std::string_view value) {
    constexpr std::size_t max_quoted = 40;
    if (value.size() <= max_quoted) {
        return fmt::format("'{}'", value);
    }
    return fmt::format("'{}...'", value.substr(0, max_quoted));
}

/// "order N" in rejection messages, formatted only when one is written.
struct OrderName {
    std::int64_t id;
};

std::string operator+(const OrderName& order, std::string_view text) {
    return fmt::format("order {}{}", order.id, text);
}

}  // namespace
}  // namespace pipeline

template <>
struct fmt::formatter<pipeline::OrderName> : fmt::formatter<std::string_view> {
    auto format(const pipeline::OrderName& order, format_context& ctx) const {
        return fmt::format_to(ctx.out(), "order {}", order.id);
    }
};

namespace pipeline {
namespace {

enum class IdCheck { ok, missing, not_integer };

IdCheck check_id(const Field& field, std::int64_t& out) {
    if (!field || trim_unicode(*field).empty()) {
        return IdCheck::missing;
    }
    auto parsed = parse_int64(*field);
    if (!parsed) {
        return IdCheck::not_integer;
    }
    if (*parsed == 0) {
        return IdCheck::missing;
    }
    out = *parsed;
    return IdCheck::ok;
}

// A timestamp field: NULL or blank is missing; otherwise it must parse.
enum class TsCheck { ok, missing, malformed };

TsCheck check_timestamp(const Field& field, std::optional<Timestamp>& out) {
    const std::string_view text = field ? trim_unicode(*field) : std::string_view();
    if (text.empty()) {
        out.reset();
        return TsCheck::missing;
    }
    out = parse_timestamp(text, OffsetRule::assume_utc);
    return out ? TsCheck::ok : TsCheck::malformed;
}

}  // namespace

std::string_view to_string(RejectReason reason) {
    switch (reason) {
        case RejectReason::missing_order_id:
            return "missing_order_id";
        case RejectReason::missing_customer_id:
            return "missing_customer_id";
        case RejectReason::null_order_amount:
            return "null_order_amount";
        case RejectReason::non_numeric_order_amount:
            return "non_numeric_order_amount";
        case RejectReason::negative_order_amount:
            return "negative_order_amount";
        case RejectReason::suspiciously_large_amount:
            return "suspiciously_large_amount";
        case RejectReason::invalid_status:
            return "invalid_status";
        case RejectReason::missing_timestamp:
            return "missing_timestamp";
        case RejectReason::updated_before_created:
            return "updated_at before created_at";
        case RejectReason::non_numeric_fee:
            return "non_numeric_fee";
        case RejectReason::fee_out_of_range:
            return "fee_out_of_range";
    }
    return "unknown";
}

std::optional<std::int64_t> parse_int64(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    if (!text.empty() && text.front() == '+') {
        text.remove_prefix(1);
        if (!text.empty() && text.front() == '-') {
            return std::nullopt;
        }
    }
    std::int64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return value;
}

ValidationResult validate(const SourceRow& row) {
    ValidOrder order;
    if (std::optional<Rejection> rejection = validate_into(row, order)) {
        return std::move(*rejection);
    }
    return order;
}

std::optional<Rejection> validate_into(const SourceRow& row, ValidOrder& v) {
    using C = SourceColumn;
    // Reset what the rules below set only conditionally; every other field is
    // assigned on the way to a valid result (validate_into reuse is tested
    // against a fresh validate()).
    v.delivery_fee = 0;
    v.discount_amount = 0;
    v.payment_method.reset();
    v.payment_method_defaulted = false;
    v.payment_status.reset();

    // 1-2: ids
    switch (check_id(row[C::order_id], v.order_id)) {
        case IdCheck::missing:
            return reject(RejectReason::missing_order_id,
                          row[C::order_id]
                              ? fmt::format("order_id is {}", quoted(*row[C::order_id]))
                              : "order_id is NULL");
        case IdCheck::not_integer:
            return reject(RejectReason::missing_order_id,
                          fmt::format("order_id {} is not an integer", quoted(*row[C::order_id])));
        case IdCheck::ok:
            break;
    }
    // "order N" for messages: formatted only when a row is rejected.
    const OrderName order{v.order_id};
    switch (check_id(row[C::customer_id], v.customer_id)) {
        case IdCheck::missing:
            return reject(RejectReason::missing_customer_id, order + " has no customer_id");
        case IdCheck::not_integer:
            return reject(RejectReason::missing_customer_id,
                          fmt::format("{} has customer_id {}, not an integer", order,
                                      quoted(*row[C::customer_id])));
        case IdCheck::ok:
            break;
    }

    // 3-6: order_amount
    const Field& amount_text = row[C::order_amount];
    if (!amount_text) {
        return reject(RejectReason::null_order_amount, order + " has a NULL order_amount");
    }
    auto amount = parse_decimal(*amount_text);
    if (!amount) {
        return reject(RejectReason::non_numeric_order_amount,
                      fmt::format("{} has order_amount {}", order, quoted(*amount_text)));
    }
    if (amount->negative && !amount->is_zero()) {
        return reject(RejectReason::negative_order_amount,
                      fmt::format("{} has order_amount {}", order, quoted(*amount_text)));
    }
    static const Decimal max_amount = decimal_from_int(500000);
    if (compare(*amount, max_amount) > 0) {
        return reject(RejectReason::suspiciously_large_amount,
                      fmt::format("{} has order_amount {} > 500000", order, quoted(*amount_text)));
    }

    // 7: status
    const Field& status_text = row[C::status];
    if (status_text) {
        lower_unicode_into(v.status, trim_unicode(*status_text));
    }
    if (!status_text || !order_status_named(v.status)) {
        return reject(RejectReason::invalid_status,
                      fmt::format("{} has status {}", order,
                                  status_text ? quoted(*status_text) : std::string("NULL")));
    }

    // 8: timestamps
    std::optional<Timestamp> created;
    std::optional<Timestamp> updated;
    for (auto [column, target] : {std::pair{C::created_at, &created}, {C::updated_at, &updated}}) {
        const auto name = source_column_names[static_cast<std::size_t>(column)];
        switch (check_timestamp(row[column], *target)) {
            case TsCheck::missing:
                return reject(RejectReason::missing_timestamp,
                              fmt::format("{} has no {}", order, name));
            case TsCheck::malformed:
                return reject(RejectReason::missing_timestamp,
                              fmt::format("{} has {} {}, not a timestamp", order, name,
                                          quoted(*row[column])));
            case TsCheck::ok:
                break;
        }
    }
    for (auto [column, target] :
         {std::pair{C::delivered_at, &v.delivered_at}, {C::cancelled_at, &v.cancelled_at}}) {
        if (check_timestamp(row[column], *target) == TsCheck::malformed) {
            return reject(RejectReason::missing_timestamp,
                          fmt::format("{} has {} {}, not a timestamp", order,
                                      source_column_names[static_cast<std::size_t>(column)],
                                      quoted(*row[column])));
        }
    }
    v.created_at = *created;
    v.updated_at = *updated;

    // 9: ordering
    if (v.updated_at < v.created_at) {
        return reject(RejectReason::updated_before_created,
                      fmt::format("{} has updated_at {} before created_at {}", order,
                                  format_timestamp(v.updated_at), format_timestamp(v.created_at)));
    }

    // 10: fees
    std::optional<Decimal> fees[2];
    const C fee_columns[2] = {C::delivery_fee, C::discount_amount};
    for (std::size_t i = 0; i < 2; ++i) {
        const Field& text = row[fee_columns[i]];
        if (!text) {
            continue;
        }
        fees[i] = parse_decimal(*text);
        if (!fees[i]) {
            return reject(RejectReason::non_numeric_fee,
                          fmt::format("{} has {} {}", order,
                                      source_column_names[static_cast<std::size_t>(fee_columns[i])],
                                      quoted(*text)));
        }
    }

    // Beyond the spec: everything stored must fit numeric(14,2).
    v.order_amount = round_to_scale(*amount, 2, max_money_cents_exclusive).value_or(0);
    Cents* fee_targets[2] = {&v.delivery_fee, &v.discount_amount};
    for (std::size_t i = 0; i < 2; ++i) {
        if (!fees[i]) {
            continue;
        }
        auto cents = round_to_scale(*fees[i], 2, max_money_cents_exclusive);
        if (!cents) {
            return reject(RejectReason::fee_out_of_range,
                          fmt::format("{} has {} {}, outside numeric(14,2)", order,
                                      source_column_names[static_cast<std::size_t>(fee_columns[i])],
                                      quoted(*row[fee_columns[i]])));
        }
        *fee_targets[i] = *cents;
    }
    const Cents total = v.order_amount + v.delivery_fee - v.discount_amount;
    if (total >= max_money_cents_exclusive || total <= -max_money_cents_exclusive) {
        return reject(RejectReason::fee_out_of_range,
                      fmt::format("{} has a total_value outside numeric(14,2)", order));
    }

    // Normalisation of the valid row.
    if (const Field& method = row[C::payment_method]) {
        std::string normalised = lower_unicode(trim_unicode(*method));
        // "unknown" is the default, not a method: as input it counts as unrecognised.
        const std::optional<PaymentMethod> known = payment_method_named(normalised);
        if (known && *known != PaymentMethod::unknown) {
            v.payment_method = std::move(normalised);
        } else {
            v.payment_method = "unknown";
            v.payment_method_defaulted = true;
        }
    }
    if (const Field& payment_status = row[C::payment_status]) {
        std::string lowered = lower_unicode(*payment_status);
        if (!lowered.empty()) {
            v.payment_status = std::move(lowered);
        }
    }
    v.store_id.assign(row[C::store_id].value_or(std::string_view()));
    assign(v.restaurant_id, row[C::restaurant_id]);
    assign(v.cancellation_reason, row[C::cancellation_reason]);
    assign(v.promo_code, row[C::promo_code]);
    return std::nullopt;
}

}  // namespace pipeline
