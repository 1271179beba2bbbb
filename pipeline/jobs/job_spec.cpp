// pipeline/jobs/job_spec.cpp: reading the jobs file with yaml-cpp; every problem collected.
#include "pipeline/jobs/job_spec.hpp"

#include <fmt/format.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "pipeline/core/decimal.hpp"

namespace pipeline {

namespace {

constexpr std::string_view job_keys[] = {"source",  "target",  "key",   "cursor",
                                         "columns", "exclude", "rules", "derived"};

int line_of(const YAML::Node& node) {
    return node.Mark().is_null() ? 0 : node.Mark().line + 1;
}

class Reader {
public:
    void problem(const YAML::Node& at, std::string where, std::string message) {
        problems_.push_back({std::move(where), std::move(message), line_of(at)});
    }

    std::optional<std::string> scalar(const YAML::Node& node, const std::string& where) {
        if (!node.IsScalar()) {
            problem(node, where, "must be a single value");
            return std::nullopt;
        }
        return node.Scalar();
    }

    std::optional<std::string> column(const YAML::Node& node, const std::string& where) {
        auto name = scalar(node, where);
        if (name && !is_plain_column_name(*name)) {
            problem(node, where,
                    fmt::format("'{}' is not a plain lower-case column name (a-z, 0-9, _; not "
                                "starting with a digit; at most 63 bytes)",
                                *name));
            return std::nullopt;
        }
        return name;
    }

    // A column name or a list of them.
    std::vector<std::string> columns(const YAML::Node& node, const std::string& where,
                                     bool allow_single) {
        std::vector<std::string> out;
        if (allow_single && node.IsScalar()) {
            if (auto c = column(node, where)) {
                out.push_back(*c);
            }
            return out;
        }
        if (!node.IsSequence()) {
            problem(node, where, "must be a list of column names, e.g. [a, b]");
            return out;
        }
        std::set<std::string> seen;
        for (std::size_t i = 0; i < node.size(); ++i) {
            if (auto c = column(node[i], fmt::format("{}[{}]", where, i))) {
                if (!seen.insert(*c).second) {
                    problem(node[i], where, fmt::format("'{}' is listed twice", *c));
                }
                out.push_back(*c);
            }
        }
        return out;
    }

    std::optional<QualifiedName> table(const YAML::Node& node, const std::string& where) {
        auto text = scalar(node, where);
        if (!text) {
            return std::nullopt;
        }
        auto name = QualifiedName::parse(*text);
        if (!name || !is_plain_column_name(name->schema.str()) ||
            !is_plain_column_name(name->table.str())) {
            problem(node, where,
                    fmt::format("'{}' is not schema.table of plain lower-case identifiers", *text));
            return std::nullopt;
        }
        return name;
    }

    std::optional<std::string> number(const YAML::Node& node, const std::string& where) {
        auto text = scalar(node, where);
        if (text && !parse_decimal(*text)) {
            problem(node, where, fmt::format("'{}' is not a number", *text));
            return std::nullopt;
        }
        return text;
    }

    void rules(const YAML::Node& node, const std::string& where, JobSpec& job) {
        if (!node.IsMap()) {
            problem(node, where, "must map column names to rules, e.g. email: {pattern: '@'}");
            return;
        }
        for (const auto& entry : node) {
            const std::string at = fmt::format("{}.{}", where, entry.first.Scalar());
            RuleSpec rule;
            rule.line = line_of(entry.first);
            auto name = column(entry.first, at);
            if (!name) {
                continue;
            }
            rule.column = *name;
            if (!entry.second.IsMap() || entry.second.size() == 0) {
                problem(entry.second, at,
                        "must be a mapping of rules: required, pattern, one_of, min, max");
                continue;
            }
            for (const auto& r : entry.second) {
                const std::string kind = r.first.Scalar();
                const std::string rat = at + "." + kind;
                if (kind == "required") {
                    auto v = scalar(r.second, rat);
                    if (v && *v != "true" && *v != "false") {
                        problem(r.second, rat, "must be true or false");
                    }
                    rule.required = v == "true";
                } else if (kind == "pattern") {
                    if (auto v = scalar(r.second, rat)) {
                        RE2::Options options;
                        options.set_log_errors(false);
                        const RE2 re(*v, options);
                        if (!re.ok()) {
                            problem(r.second, rat,
                                    fmt::format("is not a valid RE2 pattern: {}", re.error()));
                        }
                        rule.pattern = *v;
                    }
                } else if (kind == "one_of") {
                    if (!r.second.IsSequence() || r.second.size() == 0) {
                        problem(r.second, rat, "must be a non-empty list of values");
                        continue;
                    }
                    rule.one_of.emplace();
                    for (std::size_t i = 0; i < r.second.size(); ++i) {
                        if (auto v = scalar(r.second[i], fmt::format("{}[{}]", rat, i))) {
                            rule.one_of->push_back(*v);
                        }
                    }
                } else if (kind == "min") {
                    rule.min = number(r.second, rat);
                } else if (kind == "max") {
                    rule.max = number(r.second, rat);
                } else {
                    problem(r.first, rat,
                            "is not a rule (known: required, pattern, one_of, min, max)");
                }
            }
            if (rule.min && rule.max &&
                compare(*parse_decimal(*rule.min), *parse_decimal(*rule.max)) > 0) {
                problem(entry.second, at, "min is greater than max");
            }
            job.rules.push_back(std::move(rule));
        }
    }

    void derived(const YAML::Node& node, const std::string& where, JobSpec& job) {
        if (!node.IsMap()) {
            problem(node, where, "must map new column names to SQL expressions");
            return;
        }
        for (const auto& entry : node) {
            const std::string at = fmt::format("{}.{}", where, entry.first.Scalar());
            DerivedSpec d;
            d.line = line_of(entry.first);
            auto name = column(entry.first, at);
            if (!name) {
                continue;
            }
            d.name = *name;
            if (entry.second.IsScalar()) {
                d.sql = entry.second.Scalar();
            } else if (entry.second.IsMap()) {
                for (const auto& f : entry.second) {
                    const std::string key = f.first.Scalar();
                    if (key == "sql") {
                        d.sql = scalar(f.second, at + ".sql").value_or("");
                    } else if (key == "type") {
                        d.type = scalar(f.second, at + ".type");
                    } else {
                        problem(f.first, at + "." + key,
                                "is not a key of a derived column "
                                "(known: sql, type)");
                    }
                }
            } else {
                problem(entry.second, at, "must be an SQL expression or {sql: ..., type: ...}");
                continue;
            }
            if (d.sql.find_first_not_of(" \t\r\n") == std::string::npos) {
                problem(entry.second, at, "needs an SQL expression");
            } else if (d.sql.find(';') != std::string::npos) {
                problem(entry.second, at, "must be one expression: ';' is not allowed");
            }
            if (d.type && (d.type->empty() || d.type->find(';') != std::string::npos ||
                           d.type->find('\'') != std::string::npos)) {
                problem(entry.second, at + ".type", "is not a type name");
            }
            job.derived.push_back(std::move(d));
        }
    }

    std::optional<JobSpec> job(const std::string& name, const YAML::Node& key_node,
                               const YAML::Node& node, std::string_view reserved_name) {
        const std::string where = "jobs." + name;
        JobSpec job;
        job.name = name;
        job.line = line_of(key_node);
        const std::size_t before = problems_.size();
        if (!valid_pipeline_name(name)) {
            problem(key_node, where,
                    "a job name is 1-63 of letters, digits, '_' and '-' (it names files)");
        } else if (name == reserved_name) {
            problem(key_node, where,
                    fmt::format("'{}' is the built-in orders job's name (PIPELINE_NAME); pick "
                                "another, so that their checkpoints and locks stay apart",
                                name));
        }
        if (!node.IsMap()) {
            problem(node, where, "must be a mapping with at least source, key and cursor");
            return std::nullopt;
        }
        for (const auto& entry : node) {
            const std::string key = entry.first.Scalar();
            if (std::find(std::begin(job_keys), std::end(job_keys), key) == std::end(job_keys)) {
                problem(entry.first, where + "." + key,
                        "is not a job setting (known: source, target, key, cursor, columns, "
                        "exclude, rules, derived)");
            }
        }
        if (!node["source"]) {
            problem(node, where + ".source", "is required: the source table as schema.table");
        } else if (auto t = table(node["source"], where + ".source")) {
            job.source = *t;
        }
        if (node["target"]) {
            job.target = table(node["target"], where + ".target");
        }
        if (!node["key"]) {
            problem(node, where + ".key", "is required: the column(s) that identify a row");
        } else {
            job.key = columns(node["key"], where + ".key", true);
            if (job.key.empty() && problems_.size() == before) {
                problem(node["key"], where + ".key", "needs at least one column");
            }
        }
        if (!node["cursor"]) {
            problem(node, where + ".cursor",
                    "is required: the column that grows with every change (a timestamp, or an "
                    "integer for append-only tables)");
        } else if (auto c = column(node["cursor"], where + ".cursor")) {
            job.cursor = *c;
        }
        if (node["columns"]) {
            job.columns = columns(node["columns"], where + ".columns", false);
        }
        if (node["exclude"]) {
            job.exclude = columns(node["exclude"], where + ".exclude", true);
        }
        if (node["rules"]) {
            rules(node["rules"], where + ".rules", job);
        }
        if (node["derived"]) {
            derived(node["derived"], where + ".derived", job);
        }
        for (const std::string& k : job.key) {
            if (std::find(job.exclude.begin(), job.exclude.end(), k) != job.exclude.end()) {
                problem(node["exclude"], where + ".exclude",
                        fmt::format("'{}' is a key column: it cannot be excluded", k));
            }
        }
        if (std::find(job.exclude.begin(), job.exclude.end(), job.cursor) != job.exclude.end()) {
            problem(node["exclude"], where + ".exclude",
                    fmt::format("'{}' is the cursor: it cannot be excluded", job.cursor));
        }
        if (problems_.size() != before) {
            return std::nullopt;
        }
        return job;
    }

    // YAML allows a key twice in a mapping and yaml-cpp keeps both; a job given twice would
    // share its checkpoint and lock with its twin, a setting given twice is ambiguous.
    void duplicate_keys(const YAML::Node& node, const std::string& where) {
        if (node.IsSequence()) {
            for (std::size_t i = 0; i < node.size(); ++i) {
                duplicate_keys(node[i], fmt::format("{}[{}]", where, i));
            }
            return;
        }
        if (!node.IsMap()) {
            return;
        }
        std::set<std::string> seen;
        for (const auto& entry : node) {
            const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
            const std::string at = where.empty() ? key : where + "." + key;
            if (!seen.insert(key).second) {
                problem(entry.first, at, "is given twice");
            }
            duplicate_keys(entry.second, at);
        }
    }

    std::vector<JobsProblem> take() { return std::move(problems_); }

private:
    std::vector<JobsProblem> problems_;
};

}  // namespace

std::string JobsProblem::text() const {
    return line > 0 ? fmt::format("line {}: {}: {}", line, where, message)
                    : fmt::format("{}: {}", where, message);
}

bool is_plain_column_name(std::string_view name) {
    if (name.empty() || name.size() > 63 || (name[0] >= '0' && name[0] <= '9')) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

JobsFileResult parse_jobs_file(std::string_view text, std::string_view reserved_name) {
    JobsFileResult out;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        out.problems.push_back({"jobs file", fmt::format("is not valid YAML: {}", e.msg),
                                e.mark.is_null() ? 0 : e.mark.line + 1});
        return out;
    }
    Reader reader;
    reader.duplicate_keys(root, "");
    if (!root.IsMap() || !root["jobs"]) {
        reader.problem(root, "jobs file", "needs a top-level 'jobs:' mapping of job names");
        out.problems = reader.take();
        return out;
    }
    for (const auto& entry : root) {
        if (entry.first.Scalar() != "jobs") {
            reader.problem(entry.first, entry.first.Scalar(),
                           "is not a top-level key of a jobs file (known: jobs)");
        }
    }
    const YAML::Node jobs = root["jobs"];
    if (!jobs.IsMap() || jobs.size() == 0) {
        reader.problem(jobs, "jobs", "must map job names to their settings");
        out.problems = reader.take();
        return out;
    }
    for (const auto& entry : jobs) {
        const std::string name = entry.first.Scalar();
        if (auto job = reader.job(name, entry.first, entry.second, reserved_name)) {
            out.jobs.push_back(std::move(*job));
        }
    }
    out.problems = reader.take();
    if (!out.problems.empty()) {
        out.jobs.clear();
    }
    return out;
}

}  // namespace pipeline
