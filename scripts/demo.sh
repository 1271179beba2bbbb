#!/usr/bin/env bash
# scripts/demo.sh: the README's first command. From a fresh Debian bookworm machine:
# install what is missing, build Release, start a throwaway PostgreSQL 15 under .demo/,
# seed ~200,000 FreshMart orders (about 2% invalid, some hostile-but-valid text), run the
# initial load, change a few thousand rows, run the incremental load, and show the result.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

ROWS=${DEMO_ROWS:-200000}
CHANGES=${DEMO_CHANGES:-2000}
demo=$PWD/.demo
bin=$PWD/build/release/cmd/orders-pipeline

step() { printf '\n==> %s\n' "$*"; }

step "checking packages"
ensure_packages

step "building (Release)"
cmake --preset release >/dev/null
cmake --build --preset release

step "starting a throwaway PostgreSQL 15 under .demo/pg"
bash tests/support/pg_cluster.sh destroy "$demo/pg" >/dev/null 2>&1 || true
rm -rf "$demo"
mkdir -p "$demo/logs"
bash tests/support/pg_cluster.sh start "$demo/pg" --durable
# shellcheck source=/dev/null
source "$demo/pg/env"
base=${PG_URL%/postgres}
psql -qX "$PG_URL" -c "CREATE DATABASE shop" -c "CREATE DATABASE warehouse"
psql() { command psql -qX -v ON_ERROR_STOP=1 "$@"; }

step "seeding $ROWS orders into shop.public.orders"
psql "$base/shop" -f tests/support/freshmart_seed.sql >/dev/null
psql "$base/shop" -c "SELECT freshmart_seed($ROWS, 1, now() - interval '1 minute', 30)" >/dev/null
psql "$base/shop" -c "ANALYZE orders"

export ORDERS_PIPELINE_SOURCE_DB_URL=$base/shop
export ORDERS_PIPELINE_DEST_DB_URL=$base/warehouse
export ORDERS_PIPELINE_CHECKPOINT_DIR=$demo/checkpoints
export ORDERS_PIPELINE_DLQ_DIR=$demo/dlq

step "run 1: initial load (logs: .demo/logs/run1.jsonl)"
"$bin" run 2>"$demo/logs/run1.jsonl"

step "changing the source: $CHANGES updates and $CHANGES new orders"
psql "$base/shop" -c "UPDATE orders SET status = 'delivered', delivered_at = now(),
        updated_at = now() WHERE order_id IN (SELECT order_id FROM orders
        WHERE status IN ('placed', 'preparing', 'delivering') ORDER BY order_id LIMIT $CHANGES)"
psql "$base/shop" -c "SELECT freshmart_seed($CHANGES, $ROWS + 1, now(), 0)" >/dev/null

step "run 2: incremental (logs: .demo/logs/run2.jsonl)"
"$bin" run 2>"$demo/logs/run2.jsonl"

step "run records (warehouse.monitoring.pipeline_runs)"
psql "$base/warehouse" -c "SELECT run_id, mode, status, rows_extracted AS extracted,
        rows_written AS written, rows_rejected AS rejected, rows_inserted AS inserted,
        rows_updated AS updated, round(duration_seconds::numeric, 2) AS seconds
    FROM monitoring.pipeline_runs ORDER BY started_at"

step "silver.orders"
psql "$base/warehouse" -c "SELECT order_tier, count(*) AS orders, sum(total_value) AS total_value
    FROM silver.orders GROUP BY order_tier ORDER BY order_tier"

step "dead-letter files"
for f in "$demo"/dlq/*.ndjson; do
    printf '%s: %s lines\n' "$f" "$(wc -l <"$f")"
done
echo "first line of the first file:"
head -n 1 "$(ls "$demo"/dlq/*.ndjson | head -n 1)"

step "stopping PostgreSQL"
bash tests/support/pg_cluster.sh stop "$demo/pg"
cat <<MSG

Done. Everything lives in .demo/ (git-ignored). To look around:
  bash tests/support/pg_cluster.sh start .demo/pg && source .demo/pg/env
  psql "\${PG_URL%/postgres}/warehouse" -c 'SELECT * FROM silver.orders LIMIT 5'
  bash tests/support/pg_cluster.sh destroy .demo/pg    # when finished
MSG
