// pipeline/state/job_columns.hpp: the columns a declared job's target was made with, remembered
// next to its checkpoint (`<job>.columns.json`), so that schema drift at the source is caught
// before anything is loaded.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/jobs/job_plan.hpp"

namespace pipeline {

struct RecordedColumns {
    std::vector<std::pair<std::string, std::string>> columns;  ///< name, PostgreSQL type
    std::vector<std::string> ignored;  ///< new source columns already reported as ignored
    std::optional<std::vector<std::string>> key;  ///< the target's key (absent in older files)
};

class JobColumnsMemory {
public:
    JobColumnsMemory(const std::filesystem::path& dir, const std::string& job);

    /// What was remembered; nullopt before the first load (or when the file is
    /// unreadable: then a warning is logged and drift goes unchecked until the
    /// next load rewrites it). Never throws.
    std::optional<RecordedColumns> load() const noexcept;
    /// Remembers `job`'s carried columns and its new ignored ones, when they
    /// differ from the file. Throws Error(io).
    void remember(const JobTable& job);
    /// `job`'s new ignored columns that were not reported yet.
    std::vector<std::string> unreported(const JobTable& job) const;

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path dir_;
    std::filesystem::path path_;
};

}  // namespace pipeline
