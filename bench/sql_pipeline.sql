-- bench/sql_pipeline.sql: the hand-written set-based baseline the benchmark compares with.
-- Staging (17 source columns as loaded by COPY) -> one MERGE into silver.orders with the same
-- newer-wins rule, the main validation rules as a WHERE, and the derived columns in SQL.
-- Run with psql -v ON_ERROR_STOP=1 after `COPY bench_stage FROM STDIN`.
MERGE INTO silver.orders t
USING (
    SELECT DISTINCT ON (order_id) *
    FROM (
        SELECT s.order_id, s.customer_id, coalesce(s.store_id, '') AS store_id, s.restaurant_id,
               round(s.order_amount, 2) AS order_amount,
               round(coalesce(s.delivery_fee, 0), 2) AS delivery_fee,
               round(coalesce(s.discount_amount, 0), 2) AS discount_amount,
               round(s.order_amount, 2) + round(coalesce(s.delivery_fee, 0), 2)
                   - round(coalesce(s.discount_amount, 0), 2) AS total_value,
               lower(trim(s.status)) AS status,
               CASE WHEN lower(trim(s.payment_method)) IN ('upi', 'card', 'netbanking', 'wallet',
                                                          'cod', 'emi')
                    THEN lower(trim(s.payment_method))
                    WHEN s.payment_method IS NULL THEN NULL ELSE 'unknown' END AS payment_method,
               nullif(lower(s.payment_status), '') AS payment_status,
               CASE WHEN round(s.order_amount, 2) >= 2000 THEN 'premium'
                    WHEN round(s.order_amount, 2) >= 500 THEN 'standard'
                    ELSE 'economy' END AS order_tier,
               (s.created_at AT TIME ZONE 'UTC')::date AS order_date,
               extract(hour FROM s.created_at AT TIME ZONE 'UTC')::smallint AS order_hour,
               to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM') AS order_month,
               round((extract(epoch FROM s.delivered_at - s.created_at) / 60)::numeric, 1)
                   AS delivery_minutes,
               CASE WHEN lower(trim(s.status)) <> 'cancelled' THEN NULL
                    WHEN lower(s.cancellation_reason) IN ('payment_failed', 'restaurant_closed',
                                                          'no_rider_available') THEN 'system'
                    ELSE 'customer' END AS cancellation_type,
               s.cancellation_reason, coalesce(s.promo_code, '') <> '' AS has_promo,
               s.promo_code, s.created_at, s.updated_at, s.delivered_at, s.cancelled_at,
               now() AS ingested_at
        FROM bench_stage s
        WHERE s.order_id IS NOT NULL AND s.customer_id IS NOT NULL
          AND s.order_amount IS NOT NULL AND s.order_amount <> 'NaN'
          AND s.order_amount >= 0 AND s.order_amount <= 500000
          AND s.created_at IS NOT NULL AND s.updated_at IS NOT NULL
          AND s.updated_at >= s.created_at
          AND lower(trim(s.status)) IN ('placed', 'confirmed', 'preparing', 'ready', 'picked_up',
                                        'delivering', 'delivered', 'cancelled')
          AND coalesce(s.delivery_fee, 0) <> 'NaN'
    ) v
    ORDER BY order_id, updated_at DESC
) s
ON t.order_id = s.order_id
WHEN MATCHED AND t.updated_at < s.updated_at THEN UPDATE SET
    customer_id = s.customer_id, store_id = s.store_id, restaurant_id = s.restaurant_id,
    order_amount = s.order_amount, delivery_fee = s.delivery_fee,
    discount_amount = s.discount_amount, total_value = s.total_value, status = s.status,
    payment_method = s.payment_method, payment_status = s.payment_status,
    order_tier = s.order_tier, order_date = s.order_date, order_hour = s.order_hour,
    order_month = s.order_month, delivery_minutes = s.delivery_minutes,
    cancellation_type = s.cancellation_type, cancellation_reason = s.cancellation_reason,
    has_promo = s.has_promo, promo_code = s.promo_code, created_at = s.created_at,
    updated_at = s.updated_at, delivered_at = s.delivered_at, cancelled_at = s.cancelled_at,
    ingested_at = s.ingested_at
WHEN NOT MATCHED THEN INSERT VALUES (
    s.order_id, s.customer_id, s.store_id, s.restaurant_id, s.order_amount, s.delivery_fee,
    s.discount_amount, s.total_value, s.status, s.payment_method, s.payment_status, s.order_tier,
    s.order_date, s.order_hour, s.order_month, s.delivery_minutes, s.cancellation_type,
    s.cancellation_reason, s.has_promo, s.promo_code, s.created_at, s.updated_at, s.delivered_at,
    s.cancelled_at, s.ingested_at);
