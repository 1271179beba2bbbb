// pipeline/observe/run_record.cpp: wire names of run modes and statuses.
#include "pipeline/observe/run_record.hpp"

namespace pipeline {

std::string_view to_string(RunMode mode) {
    switch (mode) {
        case RunMode::backfill:
            return "backfill";
        case RunMode::replay:
            return "replay";
        case RunMode::incremental:
            break;
    }
    return "incremental";
}

std::string_view to_string(RunStatus status) {
    switch (status) {
        case RunStatus::running:
            return "running";
        case RunStatus::success:
            return "success";
        case RunStatus::failed:
            return "failed";
        case RunStatus::skipped:
            return "skipped";
        case RunStatus::cancelled:
            return "cancelled";
    }
    return "failed";
}

}  // namespace pipeline
