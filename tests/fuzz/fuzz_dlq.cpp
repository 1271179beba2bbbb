// tests/fuzz/fuzz_dlq.cpp: the DLQ line reader on arbitrary bytes.
//
// Invariants: nothing crashes; a rejection says why; an accepted line's row
// has every column's value or NULL and a run id.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pipeline/state/dlq.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string why;
    auto entry = pipeline::parse_dlq_line(input, why);
    if (!entry && why.empty()) {
        std::abort();
    }
    return 0;
}
