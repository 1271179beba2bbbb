// pipeline/jobs/job_plan.cpp: a job spec checked against its source catalog.
#include "pipeline/jobs/job_plan.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pipeline {

std::string_view to_string(CursorKind kind) {
    switch (kind) {
        case CursorKind::timestamptz:
            return "timestamptz";
        case CursorKind::timestamp:
            return "timestamp";
        case CursorKind::integer:
            return "integer";
    }
    return "?";
}

std::optional<std::size_t> JobTable::column_index(std::string_view column) const {
    for (std::size_t i = 0; i < columns.size(); ++i) {
        if (columns[i].name == column) {
            return i;
        }
    }
    return std::nullopt;
}

bool is_type_name(std::string_view type) {
    return !type.empty() && std::all_of(type.begin(), type.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == ' ' || c == '_' || c == ',' || c == '(' || c == ')' || c == '[' || c == ']';
    });
}

JobPlanResult plan_job(const JobSpec& spec, const JobCatalog& catalog,
                       const SqlIdentifier& default_schema, TargetLimits target) {
    JobPlanResult out;
    const std::string where = "jobs." + spec.name;
    const auto problem = [&](std::string at, std::string message, int line) {
        out.problems.push_back({where + at, std::move(message), line > 0 ? line : spec.line});
    };
    if (!catalog.exists) {
        problem(".source",
                fmt::format("table {} does not exist at the source (or the source role cannot "
                            "see it)",
                            spec.source.str()),
                spec.line);
        return out;
    }
    JobTable job;
    job.name = spec.name;
    job.source = spec.source;
    job.target = spec.target.value_or(QualifiedName{default_schema, spec.source.table});

    const auto in_catalog = [&](const std::string& name) {
        return std::any_of(catalog.columns.begin(), catalog.columns.end(),
                           [&](const CatalogColumn& c) { return c.name == name; });
    };
    const auto missing = [&](const std::string& at, const std::string& name) {
        problem(at, fmt::format("column '{}' is not in {}", name, spec.source.str()), 0);
    };
    for (const std::string& k : spec.key) {
        if (!in_catalog(k)) {
            missing(".key", k);
        }
    }
    if (!in_catalog(spec.cursor)) {
        missing(".cursor", spec.cursor);
    }
    for (const std::string& e : spec.exclude) {
        if (!in_catalog(e)) {
            missing(".exclude", e);
        }
    }
    if (spec.columns) {
        for (const std::string& c : *spec.columns) {
            if (!in_catalog(c)) {
                missing(".columns", c);
            }
        }
    }
    for (const CatalogColumn& c : catalog.columns) {
        const bool keyed = std::find(spec.key.begin(), spec.key.end(), c.name) != spec.key.end() ||
                           c.name == spec.cursor;
        const bool listed =
            !spec.columns || keyed ||
            std::find(spec.columns->begin(), spec.columns->end(), c.name) != spec.columns->end();
        const bool excluded =
            std::find(spec.exclude.begin(), spec.exclude.end(), c.name) != spec.exclude.end();
        const bool recorded =
            !catalog.recorded || std::any_of(catalog.recorded->begin(), catalog.recorded->end(),
                                             [&](const auto& r) { return r.first == c.name; });
        if (!listed || excluded) {
            job.ignored.push_back(c.name);
            continue;
        }
        if (!recorded && !spec.columns) {
            // New at the source since the target was made, and not declared: not loaded.
            job.ignored.push_back(c.name);
            job.new_ignored.push_back(c.name);
            continue;
        }
        if (!is_plain_column_name(c.name)) {
            problem(".source",
                    fmt::format("column '{}' is not a plain lower-case name; leave it out with "
                                "exclude: [...] or load a view that renames it",
                                c.name),
                    0);
            continue;
        }
        if (is_reserved_word(c.name, target)) {
            problem(".source",
                    fmt::format("column '{}' is a reserved word in {} SQL and the tool does not "
                                "quote names; leave it out with exclude: [{}] or load a view "
                                "that renames it",
                                c.name,
                                is_reserved_word(c.name, TargetLimits::postgres) ? "PostgreSQL"
                                                                                 : "Snowflake",
                                c.name),
                    0);
            continue;
        }
        if (c.name == loaded_at_column) {
            problem(
                ".source",
                fmt::format("column '{}' is the tool's own load-time column; exclude it", c.name),
                0);
            continue;
        }
        auto mapped = map_column_type(c);
        if (auto* why = std::get_if<std::string>(&mapped)) {
            problem(".source", *why, 0);
            continue;
        }
        JobColumn column{c.name, std::get<ColumnType>(mapped), c.not_null};
        if (column.type.note) {
            job.notes.push_back(fmt::format("column '{}': {}", c.name, *column.type.note));
        }
        job.columns.push_back(std::move(column));
    }
    if (catalog.recorded) {
        for (const auto& [name, type] : *catalog.recorded) {
            const auto i = job.column_index(name);
            if (!i) {
                problem(".source",
                        fmt::format("column '{}' ({}) that the target was made with is no longer "
                                    "carried: it is gone from {} or left out by the jobs file. "
                                    "Restore it; or, to stop loading it, drop it from the target "
                                    "and delete {}.columns.json in CHECKPOINT_DIR",
                                    name, type, spec.source.str(), spec.name),
                        0);
            } else if (job.columns[*i].type.pg_type != type) {
                problem(".source",
                        fmt::format("column '{}' changed type at the source: {} when the target "
                                    "was made, {} now. ALTER the target's column to the new "
                                    "type and delete {}.columns.json in CHECKPOINT_DIR, or "
                                    "restore the source's type",
                                    name, type, job.columns[*i].type.pg_type, spec.name),
                        0);
            }
        }
    }
    if (catalog.recorded_key && *catalog.recorded_key != spec.key) {
        const auto list = [](const std::vector<std::string>& names) {
            std::string joined;
            for (const std::string& n : names) {
                joined += (joined.empty() ? "" : ", ") + n;
            }
            return "(" + joined + ")";
        };
        problem(".key",
                fmt::format("the target was made keyed by {}, the job now says {}: rows would be "
                            "matched by another key than the target's. Restore the key; or "
                            "drop the target, delete {}.columns.json in CHECKPOINT_DIR and "
                            "`checkpoint reset --job {} --yes` to reload it",
                            list(*catalog.recorded_key), list(spec.key), spec.name, spec.name),
                0);
    }
    // Everything else is still checked, so that one pass names every problem.
    for (const std::string& k : spec.key) {
        const auto found = job.column_index(k);
        if (!found) {
            continue;  // named above (missing, or of a type that cannot be carried)
        }
        const std::size_t i = *found;
        if (!can_be_key(job.columns[i].type)) {
            problem(".key",
                    fmt::format("column '{}' ({}) cannot be a key: floats, json, bytea and arrays "
                                "have no reliable equality",
                                k, job.columns[i].type.pg_type),
                    0);
        }
        job.key.push_back(i);
    }
    const auto cursor_at = job.column_index(spec.cursor);
    job.cursor = cursor_at.value_or(0);
    const ColumnType cursor_type = cursor_at ? job.columns[*cursor_at].type : ColumnType{};
    if (!cursor_at) {
        // named above
    } else if (cursor_type.kind == ValueKind::timestamptz && !cursor_type.array) {
        job.cursor_kind = CursorKind::timestamptz;
    } else if (cursor_type.kind == ValueKind::timestamp && !cursor_type.array) {
        job.cursor_kind = CursorKind::timestamp;
        job.notes.push_back(
            fmt::format("cursor '{}' is a timestamp without time zone: its values are read as UTC",
                        spec.cursor));
    } else if (cursor_type.is_integer()) {
        job.cursor_kind = CursorKind::integer;
    } else {
        problem(".cursor",
                fmt::format("column '{}' ({}) cannot be the cursor: use a timestamptz or "
                            "timestamp column that every change sets, or an integer that "
                            "only grows (append-only tables)",
                            spec.cursor, cursor_type.pg_type),
                0);
    }
    if (cursor_at && !job.columns[*cursor_at].not_null) {
        job.notes.push_back(fmt::format(
            "cursor '{}' allows NULL: rows where it is NULL are in no window and never loaded "
            "(make it NOT NULL, or give it a default)",
            spec.cursor));
    }
    if (!catalog.cursor_indexed) {
        job.notes.push_back(fmt::format(
            "no index starts with the cursor '{}': every run scans {} (CREATE INDEX ON {} "
            "({}))",
            spec.cursor, spec.source.str(), spec.source.str(), spec.cursor));
    }
    for (const RuleSpec& rule : spec.rules) {
        const auto i = job.column_index(rule.column);
        const std::string at = ".rules." + rule.column;
        if (!i) {
            problem(
                at,
                in_catalog(rule.column)
                    ? fmt::format("column '{}' is not loaded (excluded or not listed)", rule.column)
                    : fmt::format("column '{}' is not in {}", rule.column, spec.source.str()),
                rule.line);
            continue;
        }
        const ColumnType& type = job.columns[*i].type;
        if ((rule.min || rule.max) && !type.is_number()) {
            problem(
                at,
                fmt::format("min/max need a number column; '{}' is {}", rule.column, type.pg_type),
                rule.line);
        }
        if ((rule.pattern || rule.one_of) &&
            (type.array || type.kind == ValueKind::json || type.kind == ValueKind::jsonb ||
             type.kind == ValueKind::bytea)) {
            problem(at,
                    fmt::format("pattern/one_of need a scalar column; '{}' is {}", rule.column,
                                type.pg_type),
                    rule.line);
        }
        job.rules.push_back(rule);
    }
    for (const DerivedSpec& d : spec.derived) {
        const std::string at = ".derived." + d.name;
        if (job.column_index(d.name) || in_catalog(d.name)) {
            problem(
                at,
                fmt::format("'{}' is a source column: a derived column needs a new name", d.name),
                d.line);
            continue;
        }
        if (d.name == loaded_at_column) {
            problem(at, "is the tool's own load-time column", d.line);
            continue;
        }
        if (is_reserved_word(d.name, target)) {
            problem(at, "is a reserved word (the tool does not quote names); pick another name",
                    d.line);
            continue;
        }
        if (d.type && !is_type_name(*d.type)) {
            problem(at + ".type", fmt::format("'{}' is not a type name", *d.type), d.line);
            continue;
        }
        if (const auto e = catalog.derived_errors.find(d.name); e != catalog.derived_errors.end()) {
            problem(at,
                    fmt::format("the source could not type it: {} (give it a type: {{sql: ..., "
                                "type: ...}})",
                                e->second),
                    d.line);
            continue;
        }
        const auto t = catalog.derived_types.find(d.name);
        if (t == catalog.derived_types.end()) {
            problem(at, "its type is unknown", d.line);
            continue;
        }
        auto mapped = map_column_type(t->second);
        if (auto* why = std::get_if<std::string>(&mapped)) {
            problem(at, *why, d.line);
            continue;
        }
        job.derived.push_back({d.name, d.sql, std::get<ColumnType>(mapped)});
    }
    for (std::size_t a = 0; a < spec.derived.size(); ++a) {
        for (std::size_t b = a + 1; b < spec.derived.size(); ++b) {
            if (spec.derived[a].name == spec.derived[b].name) {
                problem(".derived." + spec.derived[a].name, "is declared twice",
                        spec.derived[b].line);
            }
        }
    }
    if (out.problems.empty()) {
        out.table = std::move(job);
    }
    return out;
}

std::string job_select_list(const JobTable& job) {
    std::string out;
    for (std::size_t i = 0; i < job.columns.size(); ++i) {
        const JobColumn& c = job.columns[i];
        out += i == 0 ? "" : ", ";
        out += c.type.cast_on_extract ? fmt::format("s.{0}::{1} AS {0}", c.name, c.type.pg_type)
                                      : "s." + c.name;
    }
    return out;
}

}  // namespace pipeline
