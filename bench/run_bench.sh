#!/usr/bin/env bash
# bench/run_bench.sh [ROWS]: the end-to-end benchmark, one command (README "Performance").
#
# Starts a throwaway PostgreSQL 15 under .bench/ (fsync on), seeds ROWS FreshMart orders
# (default 1,000,000; about 2% invalid) and measures, on the same server in the same run:
#   raw pipe      COPY (SELECT 17 columns ... ORDER BY updated_at, order_id) TO STDOUT
#                 | COPY staging FROM STDIN: the physical limit of moving the rows
#   sql pipeline  that COPY plus one hand-written MERGE (bench/sql_pipeline.sql) into an
#                 empty silver.orders with the same newer-wins rule
#   tool initial  orders-pipeline run into an empty warehouse
#   tool verify   orders-pipeline verify of the freshly loaded table (no difference): the
#                 warehouse's bucket checksums against the tool's from the source rows
#   job initial   a declared job (bench/jobs.yaml) loading the same 17 source columns with no
#                 rules and no enrichment into an empty warehouse: binary cursor to binary COPY
#   sql tick      2,000 updates + 2,000 inserts, then COPY of the window + MERGE
#   tool tick     the same changes, then orders-pipeline run (incremental)
# For each: wall seconds, rows/s, peak RSS (ours, from /usr/bin/time -v) and the ratios.
# The initial loads run BENCH_REPEATS times (default 3), interleaved, and report medians.
# Prints the table and writes it to .bench/results-ROWS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

ROWS=${1:-${BENCH_ROWS:-1000000}}
CHANGES=2000
REPEATS=${BENCH_REPEATS:-3}
work=$PWD/.bench
bin=$PWD/build/release/cmd/orders-pipeline
results=$work/results-$ROWS.md

ensure_packages
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null

bash tests/support/pg_cluster.sh destroy "$work/pg" >/dev/null 2>&1 || true
rm -rf "$work/pg" "$work/state"
mkdir -p "$work/state"
bash tests/support/pg_cluster.sh start "$work/pg" --durable >/dev/null
trap 'bash tests/support/pg_cluster.sh destroy "$work/pg" >/dev/null 2>&1 || true' EXIT
# shellcheck source=/dev/null
source "$work/pg/env"
base=${PG_URL%/postgres}
psql() { command psql -qX -v ON_ERROR_STOP=1 "$@"; }
psql "$PG_URL" -c "CREATE DATABASE src"

echo "seeding $ROWS orders ..."
psql "$base/src" -f tests/support/freshmart_seed.sql >/dev/null
psql "$base/src" -c "SELECT freshmart_seed($ROWS, 1, now() - interval '1 minute', 30)" >/dev/null
psql "$base/src" -c "VACUUM ANALYZE orders"

columns="order_id, customer_id, store_id, restaurant_id, order_amount, delivery_fee,
    discount_amount, status, payment_method, payment_status, created_at, updated_at,
    delivered_at, cancelled_at, cancellation_reason, promo_code, notes"
stage_ddl="CREATE UNLOGGED TABLE IF NOT EXISTS bench_stage (LIKE public.orders)"
# fresh_db DB [with_target]: (re)creates DB with a fresh staging table and, for the SQL
# pipeline, the tool's own target DDL (from its dry run). Fresh, never-analyzed tables, as
# a first load meets them (a TRUNCATEd table would tell the planner it is empty).
fresh_db() {
    psql "$PG_URL" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    psql "$base/$1" -c "CREATE TABLE public.orders (order_id bigint, customer_id bigint,
        store_id text, restaurant_id text, order_amount numeric, delivery_fee numeric,
        discount_amount numeric, status text, payment_method text, payment_status text,
        created_at timestamptz, updated_at timestamptz, delivered_at timestamptz,
        cancelled_at timestamptz, cancellation_reason text, promo_code text, notes text)" \
        -c "$stage_ddl"
    if [[ ${2:-} == with_target ]]; then
        ORDERS_PIPELINE_SOURCE_DB_URL=$base/src ORDERS_PIPELINE_DEST_DB_URL=$base/$1 \
            ORDERS_PIPELINE_CHECKPOINT_DIR=$work/state/none \
            ORDERS_PIPELINE_DLQ_DIR=$work/state/none "$bin" run --dry-run 2>/dev/null |
            sed -n '/^CREATE SCHEMA IF NOT EXISTS silver;/,/^)/p' | psql "$base/$1"
    fi
}

now_ms() { date +%s%N | cut -b1-13; }
# copy_window DB WHERE: the raw pipe of the rows matching WHERE into DB's bench_stage.
copy_window() {
    psql "$base/src" -c "COPY (SELECT $columns FROM public.orders WHERE $2
        ORDER BY updated_at, order_id) TO STDOUT" | psql "$base/$1" -c "COPY bench_stage FROM STDIN"
}
declare -A wall rss rows
measure_tool() {  # NAME [COMMAND...]: runs the tool (default `run`) under /usr/bin/time -v
    local name=$1 log=$work/state/$1.time
    shift
    ORDERS_PIPELINE_SOURCE_DB_URL=$base/src ORDERS_PIPELINE_DEST_DB_URL=$base/${dest:-wh_tool} \
        ORDERS_PIPELINE_JOBS_FILE=$PWD/bench/jobs.yaml \
        ORDERS_PIPELINE_CHECKPOINT_DIR=$work/state/checkpoints \
        ORDERS_PIPELINE_DLQ_DIR=$work/state/dlq ORDERS_PIPELINE_LOG_LEVEL=INFO \
        /usr/bin/time -v -o "$log" "$bin" "${@:-run}" >"$work/state/$name.out" \
        2>"$work/state/$name.jsonl" || [[ $name == tool_verify ]]
    wall[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$log")
    rss[$name]=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$log")
    rows[$name]=$(grep -o 'extracted [0-9]*' "$work/state/$name.out" | awk '{print $2}' || true)
}
timed() {  # NAME ROWS COMMAND...: wall time of a shell command
    local name=$1 n=$2 t0
    shift 2
    t0=$(now_ms)
    "$@"
    wall[$name]=$(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN {printf "%.3f", (b - a) / 1000}')
    rss[$name]="-"
    rows[$name]=$n
}
sql_merge() { psql "$base/wh_sql" -f bench/sql_pipeline.sql; }

# The three initial loads (and a verify after the tool's) run REPEATS times, interleaved
# (raw, SQL, tool, verify, raw, ...) so that drift on a shared machine hits all alike; each starts from an empty target and a
# fresh CHECKPOINT, so that no load pays for the previous one's dirty pages. The table
# shows each one's median wall time and the tool's largest peak RSS.
declare -A walls
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {
    print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
checkpoint() { psql "$base/$1" -c "CHECKPOINT"; }
sql_initial() { copy_window wh_sql "updated_at <= now()" && sql_merge; }
sql_watermark=$(psql -At "$base/src" -c "SELECT now()")
tool_rss=0
for ((i = 1; i <= REPEATS; i++)); do
    echo "measuring the initial loads ($i/$REPEATS) ..."
    fresh_db wh_raw && checkpoint wh_raw
    timed raw "$ROWS" copy_window wh_raw "updated_at <= now()"
    fresh_db wh_sql with_target && checkpoint wh_sql
    timed sql_initial "$ROWS" sql_initial
    psql "$PG_URL" -c "DROP DATABASE IF EXISTS wh_tool" -c "CREATE DATABASE wh_tool"
    rm -rf "$work/state/checkpoints" "$work/state/dlq" && checkpoint wh_tool
    measure_tool tool_initial
    # verify of the table this load left: no difference, so only bucket sums travel.
    checkpoint wh_tool
    measure_tool tool_verify verify
    psql "$PG_URL" -c "DROP DATABASE IF EXISTS wh_job" -c "CREATE DATABASE wh_job"
    checkpoint wh_job
    dest=wh_job measure_tool job_initial run --job orders_copy
    job_rss=$(awk -v a="${job_rss:-0}" -v b="${rss[job_initial]}" 'BEGIN {print (b > a) ? b : a}')
    for name in raw sql_initial tool_initial tool_verify job_initial; do
        walls[$name]="${walls[$name]:-} ${wall[$name]}"
    done
    tool_rss=$(awk -v a="$tool_rss" -v b="${rss[tool_initial]}" 'BEGIN {print (b > a) ? b : a}')
done
for name in raw sql_initial tool_initial tool_verify job_initial; do
    wall[$name]=$(echo "${walls[$name]}" | median)
done
rss[tool_initial]=$tool_rss
rss[job_initial]=$job_rss
verify_summary=$(grep -o '"missing":[0-9]*,"stale":[0-9]*,"extra":[0-9]*,"different":[0-9]*,"newer":[0-9]*,"rejected":[0-9]*' \
    "$work/state/tool_verify.jsonl" | head -n 1)
verify_cost=$(grep -o '"buckets_read":[0-9]*,"rows_fetched":[0-9]*,"statements":[0-9]*,"bytes_read":[0-9]*' \
    "$work/state/tool_verify.jsonl" | head -n 1)

psql "$base/src" -c "UPDATE orders SET status = 'delivered', delivered_at = now(),
    updated_at = now() WHERE order_id IN (SELECT order_id FROM orders
    WHERE status IN ('placed', 'preparing', 'delivering') ORDER BY order_id LIMIT $CHANGES)"
psql "$base/src" -c "SELECT freshmart_seed($CHANGES, $ROWS + 1, now(), 0)" >/dev/null
tick_rows=$(psql -At "$base/src" -c "SELECT count(*) FROM orders
    WHERE updated_at > '$sql_watermark'::timestamptz - interval '5 minutes'")
sql_tick() {
    psql "$base/wh_sql" -c "TRUNCATE bench_stage" &&
        copy_window wh_sql "updated_at > '$sql_watermark'::timestamptz - interval '5 minutes'" &&
        sql_merge
}
checkpoint wh_sql
timed sql_tick "$tick_rows" sql_tick
checkpoint wh_tool
measure_tool tool_tick

check=$(psql -At "$base/wh_tool" -c "SELECT count(*) FROM silver.orders")
stages=$(grep '"event":"run_finished"' "$work/state/tool_initial.jsonl" | grep -o \
    '"\(extract\|extract_wait\|validate\|transform\|stage\|merge\|commit\)_seconds":[0-9.e-]*' | tr '\n' ' ')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n / s}'; }
{
    echo "# orders-pipeline benchmark: $ROWS rows ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' \
        /proc/meminfo), $(psql -At "$PG_URL" -c 'SHOW server_version'), fsync on, loopback."
    echo
    echo "| measurement | rows | wall s | rows/s | peak RSS MiB | vs raw pipe | vs SQL pipeline |"
    echo "|---|---|---|---|---|---|---|"
    for name in raw sql_initial tool_initial; do
        echo "| $name | ${rows[$name]} | ${wall[$name]} | $(rate "${rows[$name]}" "${wall[$name]}") |" \
            "${rss[$name]} | $(ratio "${wall[$name]}" "${wall[raw]}") |" \
            "$(ratio "${wall[$name]}" "${wall[sql_initial]}") |"
    done
    echo "| job_initial | ${rows[job_initial]} | ${wall[job_initial]} |" \
        "$(rate "${rows[job_initial]}" "${wall[job_initial]}") | ${rss[job_initial]} |" \
        "$(ratio "${wall[job_initial]}" "${wall[raw]}") |" \
        "$(ratio "${wall[job_initial]}" "${wall[sql_initial]}") ($(ratio "${wall[job_initial]}" \
        "${wall[tool_initial]}") vs tool_initial) |"
    echo "| tool_verify | $ROWS | ${wall[tool_verify]} | $(rate "$ROWS" "${wall[tool_verify]}") |" \
        "${rss[tool_verify]} | - | $(ratio "${wall[tool_verify]}" "${wall[tool_initial]}") (vs tool_initial) |"
    for name in sql_tick tool_tick; do
        echo "| $name | ${rows[$name]} | ${wall[$name]} | $(rate "${rows[$name]}" "${wall[$name]}") |" \
            "${rss[$name]} | - | $(ratio "${wall[$name]}" "${wall[sql_tick]}") (vs sql_tick) |"
    done
    echo
    echo "Initial loads and verify: median of $REPEATS interleaved runs each; wall s of every run:"
    for name in raw sql_initial tool_initial tool_verify job_initial; do
        echo "- $name:${walls[$name]}"
    done
    echo
    echo "tool_initial stages (s), last run: $stages"
    echo "tool verify found: $verify_summary"
    echo "tool verify read: $verify_cost"
    echo "tool warehouse rows after both runs: $check"
} | tee "$results"
echo "written to $results"
