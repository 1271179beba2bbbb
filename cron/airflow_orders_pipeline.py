"""cron/airflow_orders_pipeline.py: Airflow DAGs that run orders-pipeline every 15 minutes, and
its verify once a day.

The binary does the work; Airflow only schedules, retries and alerts. max_active_runs=1 keeps
runs from overlapping (the run lock is the second guard). Exit 4 (another run holds the lock)
is treated as a skipped tick, not a failure. Settings come from the worker's environment or
the --config file (keep secrets in it or in an Airflow connection, never in the DAG). The
verify task fails on exit 6 (differences found): the task's log has the summary, and
`orders-pipeline verify --repair` fixes them.
"""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="orders_pipeline",
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=14),
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
    },
    tags=["elt", "orders"],
) as dag:
    BashOperator(
        task_id="run",
        bash_command=(
            "/usr/local/bin/orders-pipeline run --config /etc/orders-pipeline/env"
            " --metrics-file /var/lib/orders-pipeline/metrics/orders.prom"
        ),
        skip_on_exit_code=4,
        execution_timeout=timedelta(minutes=14),
    )

with DAG(
    dag_id="orders_pipeline_verify",
    schedule="17 3 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 1, "retry_delay": timedelta(minutes=10)},
    tags=["elt", "orders", "verify"],
) as verify_dag:
    BashOperator(
        task_id="verify",
        bash_command=(
            "/usr/local/bin/orders-pipeline verify --config /etc/orders-pipeline/env"
            " --metrics-file /var/lib/orders-pipeline/metrics/orders-verify.prom"
        ),
        execution_timeout=timedelta(hours=1),
    )
