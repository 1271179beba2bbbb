// pipeline/jobs/rules.cpp: required, pattern (RE2), one_of, min, max.
#include "pipeline/jobs/rules.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include "pipeline/core/decimal.hpp"
#include "pipeline/jobs/values.hpp"

namespace pipeline {

struct JobRules::Compiled {
    std::size_t column = 0;
    std::string name;
    bool required = false;
    std::unique_ptr<RE2> pattern;
    std::string pattern_text;
    std::vector<std::string> one_of_text;  ///< as written (text columns)
    std::vector<Decimal> one_of_numbers;   ///< number columns
    std::vector<bool> one_of_booleans;     ///< boolean columns
    std::optional<Decimal> min;
    std::optional<Decimal> max;
    std::string min_text;
    std::string max_text;
};

namespace {

std::optional<bool> boolean_named(std::string_view text) {
    if (text == "true" || text == "t" || text == "yes" || text == "on" || text == "1") {
        return true;
    }
    if (text == "false" || text == "f" || text == "no" || text == "off" || text == "0") {
        return false;
    }
    return std::nullopt;
}

std::string shorten(std::string_view text) {
    constexpr std::size_t limit = 200;
    return text.size() <= limit ? std::string(text) : std::string(text.substr(0, limit)) + "...";
}

}  // namespace

JobRules::JobRules(const JobTable& job, TargetLimits limits) : job_(&job) {
    for (std::size_t c = 0; c < job.columns.size() && limits == TargetLimits::snowflake; ++c) {
        const ColumnType& type = job.columns[c].type;
        const bool limited =
            !type.array && (type.kind == ValueKind::date || type.is_timestamp() ||
                            type.kind == ValueKind::time || type.kind == ValueKind::numeric);
        if (limited) {
            limited_.push_back(c);
        }
    }
    for (const RuleSpec& rule : job.rules) {
        Compiled c;
        c.column = job.column_index(rule.column).value_or(0);
        c.name = rule.column;
        c.required = rule.required;
        const ColumnType& type = job.columns[c.column].type;
        if (rule.pattern) {
            RE2::Options options;
            options.set_log_errors(false);
            c.pattern = std::make_unique<RE2>(*rule.pattern, options);
            c.pattern_text = *rule.pattern;
        }
        if (rule.one_of) {
            for (const std::string& v : *rule.one_of) {
                if (type.is_number()) {
                    if (auto d = parse_decimal(v)) {
                        c.one_of_numbers.push_back(std::move(*d));
                    }
                } else if (type.kind == ValueKind::boolean) {
                    if (auto b = boolean_named(v)) {
                        c.one_of_booleans.push_back(*b);
                    }
                }
                c.one_of_text.push_back(v);
            }
        }
        if (rule.min) {
            c.min = parse_decimal(*rule.min);
            c.min_text = *rule.min;
        }
        if (rule.max) {
            c.max = parse_decimal(*rule.max);
            c.max_text = *rule.max;
        }
        compiled_.push_back(std::move(c));
    }
}

JobRules::JobRules(JobRules&&) noexcept = default;
JobRules& JobRules::operator=(JobRules&&) noexcept = default;
JobRules::~JobRules() = default;

std::string JobRules::describe_key(std::span<const BinaryField> fields) const {
    std::string names;
    std::string values;
    for (std::size_t k = 0; k < job_->key.size(); ++k) {
        const std::size_t i = job_->key[k];
        names += (k == 0 ? "" : ", ") + job_->columns[i].name;
        values += k == 0 ? "" : ", ";
        if (i < fields.size() && fields[i]) {
            std::string text;
            append_pg_text(job_->columns[i].type, *fields[i], text);
            values += shorten(text);
        } else {
            values += "NULL";
        }
    }
    return job_->key.size() == 1 ? names + "=" + values : "(" + names + ")=(" + values + ")";
}

std::optional<RowRejection> JobRules::check(std::span<const BinaryField> fields) const {
    for (const std::size_t i : job_->key) {
        if (!fields[i]) {
            return RowRejection{"missing_key",
                                fmt::format("missing_key: row {} has a NULL key column '{}'",
                                            describe_key(fields), job_->columns[i].name)};
        }
    }
    if (!fields[job_->cursor]) {
        return RowRejection{"missing_cursor",
                            fmt::format("missing_cursor: row {} has a NULL cursor '{}'",
                                        describe_key(fields), job_->cursor_column().name)};
    }
    std::string text;
    for (const std::size_t c : limited_) {
        if (fields[c] && !snowflake_can_hold(job_->columns[c].type, *fields[c])) {
            const JobColumn& column = job_->columns[c];
            text.clear();
            append_pg_text(column.type, *fields[c], text);
            const std::string code = column.name + "_unrepresentable";
            return RowRejection{
                code, fmt::format("{}: row {}: {} '{}' does not fit Snowflake's {} (years 1-9999, "
                                  "times before 24:00, finite numbers)",
                                  code, describe_key(fields), column.name, shorten(text),
                                  column.type.sf_type)};
        }
    }
    for (const Compiled& c : compiled_) {
        const BinaryField& field = fields[c.column];
        const ColumnType& type = job_->columns[c.column].type;
        const auto reject = [&](std::string_view rule, std::string detail) {
            const std::string code = fmt::format("{}_{}", c.name, rule);
            return RowRejection{code,
                                fmt::format("{}: row {}: {}", code, describe_key(fields), detail)};
        };
        if (!field) {
            if (c.required) {
                return reject("required", fmt::format("{} is NULL", c.name));
            }
            continue;  // the other rules judge values, and NULL is none
        }
        text.clear();
        if (!append_pg_text(type, *field, text)) {
            return reject("unreadable",
                          fmt::format("{} is not a readable {}", c.name, type.pg_type));
        }
        if (c.pattern && !RE2::PartialMatch(text, *c.pattern)) {
            return reject("pattern", fmt::format("{} '{}' does not match '{}'", c.name,
                                                 shorten(text), c.pattern_text));
        }
        if (!c.one_of_text.empty()) {
            bool found = false;
            if (type.is_number()) {
                const auto d = parse_decimal(text);
                for (const Decimal& option : c.one_of_numbers) {
                    found = found || (d && compare(*d, option) == 0);
                }
            } else if (type.kind == ValueKind::boolean) {
                const bool value = text == "t";
                for (const bool option : c.one_of_booleans) {
                    found = found || option == value;
                }
            } else {
                for (const std::string& option : c.one_of_text) {
                    found = found || option == text;
                }
            }
            if (!found) {
                std::string allowed;
                for (const std::string& option : c.one_of_text) {
                    allowed += (allowed.empty() ? "" : ", ") + option;
                }
                return reject("one_of", fmt::format("{} '{}' is not one of [{}]", c.name,
                                                    shorten(text), allowed));
            }
        }
        if (c.min || c.max) {
            const auto d = parse_decimal(text);
            if (!d) {
                return reject(c.min ? "min" : "max",
                              fmt::format("{} '{}' is not a finite number", c.name, text));
            }
            if (c.min && compare(*d, *c.min) < 0) {
                return reject(
                    "min", fmt::format("{} {} is below the minimum {}", c.name, text, c.min_text));
            }
            if (c.max && compare(*d, *c.max) > 0) {
                return reject(
                    "max", fmt::format("{} {} is above the maximum {}", c.name, text, c.max_text));
            }
        }
    }
    return std::nullopt;
}

}  // namespace pipeline
