// bench/transform_bench.cpp: rows/s per core for validate, transform and COPY encoding
// (text and binary).
//
// BM_CopySourceTextBaseline copies the same 17 source fields into one buffer:
// the cost of touching the bytes at all, next to which the others are read.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "pipeline/orders/batch.hpp"
#include "pipeline/orders/transform.hpp"
#include "pipeline/orders/validate.hpp"
#include "pipeline/warehouse/postgres/copy_binary.hpp"
#include "pipeline/warehouse/postgres/copy_text.hpp"

namespace {

std::vector<std::vector<std::string>> make_source_texts(std::size_t n) {
    std::vector<std::vector<std::string>> rows;
    rows.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string id = std::to_string(1000 + i);
        rows.push_back({id, std::to_string(50 + i % 900), fmt::format("BLR-{}", i % 400),
                        fmt::format("R{}", i % 2500), fmt::format("{}.457", 100 + i % 5000), "30.5",
                        i % 3 == 0 ? "" : "12.25", i % 7 == 0 ? " Delivered " : "delivered",
                        i % 5 == 0 ? "Card" : "upi", "PAID", "2026-03-01 10:00:00.123456+00",
                        "2026-03-01 10:40:00.5+00", "2026-03-01 10:35:00+00", "", "", "SAVE10",
                        "ring twice"});
    }
    return rows;
}

std::vector<pipeline::SourceRow> as_rows(const std::vector<std::vector<std::string>>& texts) {
    std::vector<pipeline::SourceRow> rows(texts.size());
    for (std::size_t r = 0; r < texts.size(); ++r) {
        for (std::size_t c = 0; c < pipeline::source_column_count; ++c) {
            if (!texts[r][c].empty()) {
                rows[r].fields[c] = texts[r][c];
            }
        }
    }
    return rows;
}

constexpr std::size_t batch = 10000;

void report_rows(benchmark::State& state) {
    state.counters["rows_per_second"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(batch),
                           benchmark::Counter::kIsRate);
}

void BM_CopySourceTextBaseline(benchmark::State& state) {
    const auto texts = make_source_texts(batch);
    const auto rows = as_rows(texts);
    std::string out;
    for (auto _ : state) {
        out.clear();
        for (const auto& row : rows) {
            for (const auto& field : row.fields) {
                if (field) {
                    out.append(*field);
                }
                out.push_back('\t');
            }
        }
        benchmark::DoNotOptimize(out.data());
    }
    report_rows(state);
}

void BM_ValidateTransform(benchmark::State& state) {
    const auto texts = make_source_texts(batch);
    const auto rows = as_rows(texts);
    std::vector<pipeline::OrderRow> out;
    out.reserve(batch);
    // The run's own loop (pipeline/orders/batch.hpp), per-row stage clocks included.
    std::size_t rejected = 0;
    for (auto _ : state) {
        out.clear();
        const auto prepared = pipeline::prepare_rows(
            rows, pipeline::Timestamp{0}, out,
            [&](const pipeline::SourceRow&, const pipeline::Rejection&) { ++rejected; });
        benchmark::DoNotOptimize(prepared);
        benchmark::DoNotOptimize(out.data());
    }
    benchmark::DoNotOptimize(rejected);
    report_rows(state);
}

// Validation alone: validate_into with reused storage, as prepare_rows does it.
void BM_Validate(benchmark::State& state) {
    const auto texts = make_source_texts(batch);
    const auto rows = as_rows(texts);
    pipeline::ValidOrder order;
    std::size_t valid = 0;
    for (auto _ : state) {
        for (const auto& row : rows) {
            valid += pipeline::validate_into(row, order) ? 0 : 1;
        }
        benchmark::DoNotOptimize(order);
    }
    benchmark::DoNotOptimize(valid);
    report_rows(state);
}

// Transformation alone: transform_into from validated rows (their copy is not timed).
void BM_Transform(benchmark::State& state) {
    const auto texts = make_source_texts(batch);
    std::vector<pipeline::ValidOrder> validated;
    for (const auto& row : as_rows(texts)) {
        validated.push_back(std::get<pipeline::ValidOrder>(pipeline::validate(row)));
    }
    std::vector<pipeline::ValidOrder> orders;
    std::vector<pipeline::OrderRow> out;
    out.reserve(batch);
    for (auto _ : state) {
        state.PauseTiming();
        orders = validated;
        out.clear();
        state.ResumeTiming();
        for (auto& order : orders) {
            pipeline::transform_into(std::move(order), pipeline::Timestamp{0}, out.emplace_back());
        }
        benchmark::DoNotOptimize(out.data());
    }
    report_rows(state);
}

std::vector<pipeline::OrderRow> make_order_rows() {
    const auto texts = make_source_texts(batch);
    std::vector<pipeline::OrderRow> rows;
    for (const auto& row : as_rows(texts)) {
        auto result = pipeline::validate(row);
        rows.push_back(pipeline::transform(std::get<pipeline::ValidOrder>(std::move(result)),
                                           pipeline::Timestamp{0}));
    }
    return rows;
}

// Encodes the same validated rows with `encode` (one COPY row each) per iteration.
void encode_rows(benchmark::State& state, void (*encode)(std::string&, const pipeline::OrderRow&)) {
    const auto rows = make_order_rows();
    std::string out;
    for (auto _ : state) {
        out.clear();
        for (const auto& row : rows) {
            encode(out, row);
        }
        benchmark::DoNotOptimize(out.data());
    }
    report_rows(state);
}

// COPY text encoding (the PostgreSQL loader's fallback for hand-made targets).
void BM_CopyRowEncode(benchmark::State& state) {
    encode_rows(state, pipeline::append_copy_row);
}

// COPY binary encoding (what the PostgreSQL loader sends).
void BM_CopyBinaryEncode(benchmark::State& state) {
    encode_rows(state, pipeline::append_copy_binary_row);
}

BENCHMARK(BM_CopySourceTextBaseline)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Validate)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Transform)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ValidateTransform)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CopyRowEncode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CopyBinaryEncode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
