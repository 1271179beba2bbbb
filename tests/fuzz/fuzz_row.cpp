// tests/fuzz/fuzz_row.cpp: validation + transformation + COPY encoding + DLQ round trip on
// arbitrary field text.
//
// Input: up to 17 fields separated by 0x1F; a field that is exactly 0x1E is SQL NULL.
// Invariants: nothing crashes; a valid row encodes to one COPY line without raw
// tabs or newlines inside fields; a rejected row's DLQ line parses back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pipeline/orders/transform.hpp"
#include "pipeline/orders/validate.hpp"
#include "pipeline/state/dlq.hpp"
#include "pipeline/warehouse/postgres/copy_binary.hpp"
#include "pipeline/warehouse/postgres/copy_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    pipeline::SourceRow row;
    std::size_t column = 0;
    std::size_t start = 0;
    while (column < pipeline::source_column_count && start <= input.size()) {
        std::size_t end = input.find('\x1f', start);
        if (end == std::string_view::npos) {
            end = input.size();
        }
        const std::string_view field = input.substr(start, end - start);
        row.fields[column++] = field == "\x1e" ? pipeline::Field{} : pipeline::Field{field};
        start = end + 1;
    }
    const pipeline::Timestamp now{1'767'225'600'000'000};  // 2026-01-01T00:00:00Z
    pipeline::ValidationResult result = pipeline::validate(row);
    if (auto* valid = std::get_if<pipeline::ValidOrder>(&result)) {
        const pipeline::OrderRow order = pipeline::transform(*valid, now);
        std::string line;
        pipeline::append_copy_row(line, order);
        // One row is one line: exactly one newline, at the end.
        if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) {
            std::abort();
        }
        // Binary COPY: 25 fields whose lengths account for every byte.
        std::string binary;
        pipeline::append_copy_binary_row(binary, order);
        auto read_be = [&](std::size_t at, int bytes) {
            std::uint32_t v = 0;
            for (int i = 0; i < bytes; ++i) {
                v = (v << 8) | static_cast<unsigned char>(binary[at + static_cast<std::size_t>(i)]);
            }
            return v;
        };
        if (binary.size() < 2 || read_be(0, 2) != 25) {
            std::abort();
        }
        std::size_t at = 2;
        for (int field = 0; field < 25; ++field) {
            if (at + 4 > binary.size()) {
                std::abort();
            }
            const std::uint32_t length = read_be(at, 4);
            at += 4;
            if (length != 0xFFFFFFFFU) {
                at += length;
            }
        }
        if (at != binary.size()) {
            std::abort();
        }
    } else {
        const auto& rejection = std::get<pipeline::Rejection>(result);
        const std::string line = pipeline::format_dlq_line(row, rejection.message, now, "fuzz");
        std::string why;
        if (!pipeline::parse_dlq_line(line, why)) {
            std::abort();  // the DLQ must always be readable by replay
        }
    }
    return 0;
}
