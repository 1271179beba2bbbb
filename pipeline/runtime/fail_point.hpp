// pipeline/runtime/fail_point.hpp: named crash and error sites for crash-safety tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pipeline {

/// The places where a run can be made to die. Batch-numbered sites fire for
/// one batch (1-based) or, without a number, for every batch.
enum class FailSite {
    after_extract,      ///< batch fetched from the source, nothing loaded
    after_probe,        ///< PostgreSQL: batch going straight into the target, COPY not started
    after_stage,        ///< batch in the staging table, transaction open
    after_merge,        ///< MERGE done, before COMMIT
    after_commit,       ///< batch committed
    before_checkpoint,  ///< every batch loaded, DLQ durable, checkpoint not written
    checkpoint_before_rename,  ///< checkpoint temp file written and synced, not renamed
    before_final_record,       ///< checkpoint written, final run record not yet
};

/// What happens at the site: SIGKILL to ourselves (as `kill -9`), a
/// non-transient Error, or a pause (to let a test act mid-run).
enum class FailAction { kill, error, sleep };

struct FailPointSpec {
    FailSite site = FailSite::after_extract;
    std::optional<int> batch;
    FailAction action = FailAction::kill;
    int sleep_ms = 0;
};

std::string_view to_string(FailSite site);

/// Parses `site[:batch]=action[,...]` where action is `kill`, `error` or
/// `sleep:<ms>`, e.g. "after_merge:2=kill". nullopt with `why` on error. Pure.
std::optional<std::vector<FailPointSpec>> parse_fail_points(std::string_view text,
                                                            std::string& why);

/// The armed fail points of a run; inert (and free) when empty.
class FailPoints {
public:
    FailPoints() = default;
    explicit FailPoints(std::vector<FailPointSpec> specs) : specs_(std::move(specs)) {}

    /// Fires every spec matching `site` (and `batch`, for batch sites).
    void hit(FailSite site, int batch = 0) const;
    bool armed() const noexcept { return !specs_.empty(); }

private:
    std::vector<FailPointSpec> specs_;
};

}  // namespace pipeline
