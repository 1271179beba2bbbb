// tests/fuzz/fuzz_checkpoint.cpp: the checkpoint reader on arbitrary file content.
//
// Invariants: nothing crashes; whatever parses re-formats to text that parses
// to the same watermark and hold-back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pipeline/state/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string why;
    auto state = pipeline::parse_checkpoint(input, why);
    if (!state) {
        if (why.empty()) {
            std::abort();  // a rejection must say why
        }
        return 0;
    }
    auto again = pipeline::parse_checkpoint(pipeline::format_checkpoint(*state), why);
    if (!again || again->watermark.micros != state->watermark.micros ||
        again->hold_back != state->hold_back || again->unseen != state->unseen) {
        std::abort();
    }
    return 0;
}
