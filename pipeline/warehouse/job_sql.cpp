// pipeline/warehouse/job_sql.cpp: SQL text for declared jobs in both dialects.
#include "pipeline/warehouse/job_sql.hpp"

#include <fmt/format.h>

#include "pipeline/core/unicode.hpp"

namespace pipeline {

namespace {

std::string upper(std::string_view name) {
    return ascii_upper(name);
}

bool is_key(const JobTable& job, std::size_t i) {
    for (const std::size_t k : job.key) {
        if (k == i) {
            return true;
        }
    }
    return false;
}

// "a, b, c" (PostgreSQL) or "A, B, C" with an optional prefix.
std::string carried(const JobTable& job, bool sf, std::string_view prefix = {}) {
    std::string out;
    for (std::size_t i = 0; i < job.columns.size(); ++i) {
        out += fmt::format("{}{}{}", i == 0 ? "" : ", ", prefix,
                           sf ? upper(job.columns[i].name) : job.columns[i].name);
    }
    return out;
}

std::string key_list(const JobTable& job, bool sf) {
    std::string out;
    for (std::size_t k = 0; k < job.key.size(); ++k) {
        const std::string& name = job.columns[job.key[k]].name;
        out += (k == 0 ? "" : ", ") + (sf ? upper(name) : name);
    }
    return out;
}

std::string target_of(const JobTable& job, bool sf) {
    return sf ? upper(job.target.str()) : job.target.str();
}

}  // namespace

// ---- PostgreSQL ----

std::string pg_job_create_target_sql(const JobTable& job) {
    std::string columns;
    for (std::size_t i = 0; i < job.columns.size(); ++i) {
        const JobColumn& c = job.columns[i];
        columns += fmt::format("    {} {}{},\n", c.name, c.type.pg_type,
                               is_key(job, i) || i == job.cursor ? " NOT NULL" : "");
    }
    for (const JobDerived& d : job.derived) {
        columns += fmt::format("    {} {},\n", d.name, d.type.pg_type);
    }
    return fmt::format(
        "CREATE SCHEMA IF NOT EXISTS {0};\n"
        "CREATE TABLE IF NOT EXISTS {1} (\n{2}"
        "    {3} timestamptz NOT NULL DEFAULT now(),\n"
        "    PRIMARY KEY ({4})\n)",
        job.target.schema.str(), job.target.str(), columns, loaded_at_column, key_list(job, false));
}

std::vector<std::pair<std::string, std::string>> job_target_columns(const JobTable& job) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const JobColumn& c : job.columns) {
        out.emplace_back(c.name, c.type.pg_type);
    }
    for (const JobDerived& d : job.derived) {
        out.emplace_back(d.name, d.type.pg_type);
    }
    return out;
}

std::string pg_job_add_column_sql(const JobTable& job, std::string_view column,
                                  std::string_view type) {
    return fmt::format("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}", job.target.str(), column,
                       type);
}

std::string pg_job_staging_name(const JobTable& job) {
    // Job names may hold '-', which an unquoted identifier may not.
    std::string name = "orders_pipeline_stage_job_";
    for (const char c : job.name) {
        name += c == '-' ? '_' : static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    return name.substr(0, 63);
}

std::string pg_job_create_staging_sql(const JobTable& job) {
    std::string columns;
    for (std::size_t i = 0; i < job.columns.size(); ++i) {
        columns += fmt::format("{}{} {}", i == 0 ? "" : ", ", job.columns[i].name,
                               job.columns[i].type.pg_type);
    }
    return fmt::format("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS",
                       pg_job_staging_name(job), columns);
}

std::string pg_job_copy_sql(const JobTable& job, bool into_target) {
    return fmt::format("COPY {} ({}) FROM STDIN WITH (FORMAT binary)",
                       into_target ? job.target.str() : "pg_temp." + pg_job_staging_name(job),
                       carried(job, false));
}

std::string pg_job_merge_sql(const JobTable& job, bool overwrite) {
    std::string names = carried(job, false);
    std::string values = names;
    for (const JobDerived& d : job.derived) {
        names += ", " + d.name;
        values += fmt::format(", ({})::{}", d.sql, d.type.pg_type);
    }
    names += fmt::format(", {}", loaded_at_column);
    values += ", now()";
    std::string updates;
    for (std::size_t i = 0; i < job.columns.size(); ++i) {
        if (!is_key(job, i)) {
            updates += fmt::format("{0} = EXCLUDED.{0}, ", job.columns[i].name);
        }
    }
    for (const JobDerived& d : job.derived) {
        updates += fmt::format("{0} = EXCLUDED.{0}, ", d.name);
    }
    updates += fmt::format("{0} = EXCLUDED.{0}", loaded_at_column);
    const std::string& cursor = job.cursor_column().name;
    // xmax = 0 only for freshly inserted tuples: that splits the counts.
    return fmt::format(
        "WITH merged AS (\n"
        "    INSERT INTO {0} AS t ({1})\n"
        "    SELECT {2} FROM pg_temp.{3}\n"
        "    ON CONFLICT ({4}) DO UPDATE SET {5}\n"
        "{6}"
        "    RETURNING (t.xmax = 0) AS inserted\n"
        ")\n"
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged",
        job.target.str(), names, values, pg_job_staging_name(job), key_list(job, false), updates,
        overwrite ? "" : fmt::format("    WHERE t.{0} < EXCLUDED.{0}\n", cursor));
}

// ---- Snowflake ----

std::string sf_job_create_target_sql(const JobTable& job) {
    std::string columns;
    for (std::size_t i = 0; i < job.columns.size(); ++i) {
        const JobColumn& c = job.columns[i];
        columns += fmt::format("    {} {}{},\n", upper(c.name), c.type.sf_type,
                               is_key(job, i) || i == job.cursor ? " NOT NULL" : "");
    }
    for (const JobDerived& d : job.derived) {
        columns += fmt::format("    {} {},\n", upper(d.name), d.type.sf_type);
    }
    return fmt::format(
        "CREATE TABLE IF NOT EXISTS {} (\n{}    {} TIMESTAMP_TZ(6) NOT NULL,\n"
        "    PRIMARY KEY ({})\n)",
        target_of(job, true), columns, upper(loaded_at_column), key_list(job, true));
}

std::vector<std::string> sf_job_add_columns_sql(const JobTable& job) {
    std::vector<std::string> out;
    for (const JobColumn& c : job.columns) {
        out.push_back(fmt::format("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}",
                                  target_of(job, true), upper(c.name), c.type.sf_type));
    }
    for (const JobDerived& d : job.derived) {
        out.push_back(fmt::format("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}",
                                  target_of(job, true), upper(d.name), d.type.sf_type));
    }
    return out;
}

std::string sf_job_create_staging_sql(const JobTable& job, std::string_view staging) {
    std::string columns;
    for (std::size_t i = 0; i < job.columns.size(); ++i) {
        columns += fmt::format("{}    {} {}", i == 0 ? "" : ",\n", upper(job.columns[i].name),
                               job.columns[i].type.sf_stage_type);
    }
    return fmt::format(
        "CREATE TRANSIENT TABLE IF NOT EXISTS {}.{} (\n{}\n)\nDATA_RETENTION_TIME_IN_DAYS = 0",
        upper(job.target.schema.str()), staging, columns);
}

std::string sf_job_insert_staging_sql(const JobTable& job, std::string_view staging) {
    std::string placeholders;
    for (std::size_t i = 0; i < job.columns.size(); ++i) {
        placeholders += i == 0 ? "?" : ", ?";
    }
    return fmt::format("INSERT INTO {}.{} ({}) VALUES ({})", upper(job.target.schema.str()),
                       staging, carried(job, true), placeholders);
}

std::string_view sf_job_binding_type(const ColumnType& type) {
    if (type.array) {
        return "TEXT";
    }
    switch (type.kind) {
        case ValueKind::boolean:
            return "BOOLEAN";
        default:
            return "TEXT";  // Snowflake converts text into the staging column's type
    }
}

std::string sf_job_merge_sql(const JobTable& job, std::string_view staging, bool overwrite) {
    // The staged values, converted where staging holds text (VARIANT, ARRAY, BINARY).
    std::string select;
    for (std::size_t i = 0; i < job.columns.size(); ++i) {
        const JobColumn& c = job.columns[i];
        const std::string name = upper(c.name);
        std::string value = name;
        if (c.type.sf_type == "VARIANT" || c.type.sf_type == "ARRAY") {
            value = fmt::format("PARSE_JSON({})", name);
        } else if (c.type.sf_type == "BINARY") {
            value = fmt::format("TO_BINARY({}, 'HEX')", name);
        }
        select += fmt::format("{}{} AS {}", i == 0 ? "" : ", ", value, name);
    }
    for (const JobDerived& d : job.derived) {
        select += fmt::format(", CAST(({}) AS {}) AS {}", d.sql, d.type.sf_type, upper(d.name));
    }
    std::string on;
    for (std::size_t k = 0; k < job.key.size(); ++k) {
        const std::string name = upper(job.columns[job.key[k]].name);
        on += fmt::format("{}t.{} = s.{}", k == 0 ? "" : " AND ", name, name);
    }
    std::string updates;
    std::string names;
    std::string values;
    for (std::size_t i = 0; i < job.columns.size(); ++i) {
        const std::string name = upper(job.columns[i].name);
        names += (i == 0 ? "" : ", ") + name;
        values += (i == 0 ? "s." : ", s.") + name;
        if (!is_key(job, i)) {
            updates += fmt::format("{0} = s.{0}, ", name);
        }
    }
    for (const JobDerived& d : job.derived) {
        const std::string name = upper(d.name);
        names += ", " + name;
        values += ", s." + name;
        updates += fmt::format("{0} = s.{0}, ", name);
    }
    const std::string loaded = upper(loaded_at_column);
    updates += loaded + " = CURRENT_TIMESTAMP()";
    names += ", " + loaded;
    values += ", CURRENT_TIMESTAMP()";
    const std::string cursor = upper(job.cursor_column().name);
    // The USING subquery's column names are the staging table's, derived ones computed from them.
    return fmt::format(
        "MERGE INTO {0} t\n"
        "USING (SELECT {1} FROM {2}.{3}) s\n"
        "ON {4}\n"
        "WHEN MATCHED{5} THEN UPDATE SET {6}\n"
        "WHEN NOT MATCHED THEN INSERT ({7}) VALUES ({8})",
        target_of(job, true), select, upper(job.target.schema.str()), staging, on,
        overwrite ? "" : fmt::format(" AND t.{0} < s.{0}", cursor), updates, names, values);
}

}  // namespace pipeline
