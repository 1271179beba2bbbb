// pipeline/ops/doctor.hpp: `orders-pipeline doctor`: the verification checklist in one command.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/config/config.hpp"

namespace pipeline {

/// One line of the checklist.
struct DoctorCheck {
    std::string name;
    enum class Level { ok, warn, fail } level = Level::ok;
    std::string detail;
};

std::string_view to_string(DoctorCheck::Level level);

/// Runs every check; never throws (a check that cannot run is a FAIL line).
/// Only reads: the run lock is taken and released at once, and a probe file
/// is written to and removed from the DLQ directory.
std::vector<DoctorCheck> run_doctor(const Config& config);

}  // namespace pipeline
