// pipeline/orders/validate.hpp: row validation and normalisation, a pure function (spec §4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "pipeline/orders/order_row.hpp"

namespace pipeline {

/// Why a row was rejected. Each enumerator is spelled as its DLQ code, except
/// `updated_before_created`, whose wire text contains spaces.
enum class RejectReason {
    missing_order_id,
    missing_customer_id,
    null_order_amount,
    non_numeric_order_amount,
    negative_order_amount,
    suspiciously_large_amount,
    invalid_status,
    missing_timestamp,
    updated_before_created,
    non_numeric_fee,
    fee_out_of_range,
};

/// The DLQ code: the prefix of the DLQ `error` text.
std::string_view to_string(RejectReason reason);

/// A rejected row: the reason and a message that names the order id.
struct Rejection {
    RejectReason reason;
    std::string message;  ///< "<code>: <detail>", the DLQ `error` text
};

/// A row that passed every rule, with its fields parsed and normalised.
struct ValidOrder {
    std::int64_t order_id = 0;
    std::int64_t customer_id = 0;
    std::string store_id;  ///< NULL became ""
    std::optional<std::string> restaurant_id;
    Cents order_amount = 0;                     ///< rounded half away from zero
    Cents delivery_fee = 0;                     ///< NULL became 0
    Cents discount_amount = 0;                  ///< NULL became 0
    std::string status;                         ///< lower-cased, trimmed
    std::optional<std::string> payment_method;  ///< normalised; "unknown" if not recognised
    bool payment_method_defaulted = false;      ///< true when the text became "unknown"
    std::optional<std::string> payment_status;  ///< lower-cased; "" became NULL
    Timestamp created_at;
    Timestamp updated_at;
    std::optional<Timestamp> delivered_at;
    std::optional<Timestamp> cancelled_at;
    std::optional<std::string> cancellation_reason;
    std::optional<std::string> promo_code;
};

using ValidationResult = std::variant<ValidOrder, Rejection>;

/// Applies the spec §4 rules in order; the first failing rule wins.
///
/// Beyond the spec: an id that is not an integer is reported under the
/// missing-id code, a delivered_at/cancelled_at that is not a timestamp under
/// `missing_timestamp`, and a fee, discount or total outside numeric(14,2)
/// as `fee_out_of_range` (it could not be stored; it goes to the DLQ instead
/// of failing the batch). Never throws for any input text.
ValidationResult validate(const SourceRow& row);

/// validate() into a caller-owned ValidOrder (reset first): nullopt when the
/// row is valid and now in `out`, its Rejection otherwise. For hot loops:
/// no variant of a whole row is built and moved per row.
std::optional<Rejection> validate_into(const SourceRow& row, ValidOrder& out);

/// Parses an integer id (ASCII digits with an optional sign, surrounding
/// whitespace ignored); nullopt when not an int64.
std::optional<std::int64_t> parse_int64(std::string_view text);

}  // namespace pipeline
