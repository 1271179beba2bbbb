// tests/fuzz/fuzz_config.cpp: the configuration parser on arbitrary environment and file text.
//
// Input: "KEY=VALUE" lines for the environment (ORDERS_PIPELINE_ is prepended
// when missing), then a NUL byte, then the config file's text.
// Invariants: nothing crashes; the result is a config or problems, never both
// nor neither; every problem names a variable or a line of the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pipeline/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t nul = input.find('\0');
    const std::string_view env_text = input.substr(0, nul);
    std::optional<std::string_view> file_text;
    if (nul != std::string_view::npos) {
        file_text = input.substr(nul + 1);
    }
    pipeline::EnvMap env;
    std::size_t start = 0;
    while (start < env_text.size()) {
        std::size_t end = env_text.find('\n', start);
        if (end == std::string_view::npos) {
            end = env_text.size();
        }
        const std::string_view line = env_text.substr(start, end - start);
        const std::size_t eq = line.find('=');
        if (eq != std::string_view::npos) {
            std::string key(line.substr(0, eq));
            if (!key.starts_with(pipeline::env_prefix)) {
                key.insert(0, pipeline::env_prefix);
            }
            env[key] = std::string(line.substr(eq + 1));
        }
        start = end + 1;
    }
    const pipeline::ConfigResult result = pipeline::parse_config(env, file_text);
    if (result.config.has_value() == !result.problems.empty()) {
        std::abort();
    }
    for (const auto& problem : result.problems) {
        const bool named = problem.variable.starts_with(pipeline::env_prefix) ||
                           problem.variable.starts_with("config file line ");
        if (!named || problem.message.empty()) {
            std::abort();
        }
    }
    static_cast<void>(pipeline::format_problems(result.problems));
    return 0;
}
