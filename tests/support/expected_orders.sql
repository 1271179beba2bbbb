-- tests/support/expected_orders.sql: spec §4-§5 restated in SQL, as an independent oracle.
--
-- Written from the spec, not from the C++ code, for the data freshmart_seed
-- produces (numeric amounts, ASCII statuses and payment fields). The
-- integration tests compare the loaded table with expected_orders and the DLQ
-- with expected_rejections.

CREATE OR REPLACE FUNCTION spec_trim(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT btrim(t, E' \t\n\r\f' || chr(11))
$$;

CREATE OR REPLACE FUNCTION spec_not_finite(x numeric) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT x IS NOT NULL AND (x = 'NaN'::numeric OR x = 'Infinity'::numeric
                              OR x = '-Infinity'::numeric)
$$;

DROP VIEW IF EXISTS expected_orders, expected_rejections, spec_classified;

CREATE VIEW spec_classified AS
SELECT o.*,
       CASE
           WHEN o.order_id IS NULL OR o.order_id = 0 THEN 'missing_order_id'
           WHEN o.customer_id IS NULL OR o.customer_id = 0 THEN 'missing_customer_id'
           WHEN o.order_amount IS NULL THEN 'null_order_amount'
           WHEN spec_not_finite(o.order_amount) THEN 'non_numeric_order_amount'
           WHEN o.order_amount < 0 THEN 'negative_order_amount'
           WHEN o.order_amount > 500000 THEN 'suspiciously_large_amount'
           WHEN o.status IS NULL OR lower(spec_trim(o.status)) NOT IN
                ('placed','confirmed','preparing','ready','picked_up','delivering',
                 'delivered','cancelled') THEN 'invalid_status'
           WHEN o.created_at IS NULL OR o.updated_at IS NULL THEN 'missing_timestamp'
           WHEN o.updated_at < o.created_at THEN 'updated_at before created_at'
           WHEN spec_not_finite(o.delivery_fee) OR spec_not_finite(o.discount_amount)
               THEN 'non_numeric_fee'
       END AS code
FROM public.orders o;

CREATE VIEW expected_rejections AS
SELECT order_id, updated_at, code FROM spec_classified WHERE code IS NOT NULL;

CREATE VIEW expected_orders AS
WITH valid AS (
    SELECT c.*, lower(spec_trim(c.status)) AS st,
           round(c.order_amount, 2) AS amt,
           round(coalesce(c.delivery_fee, 0), 2) AS fee,
           round(coalesce(c.discount_amount, 0), 2) AS disc,
           c.created_at AT TIME ZONE 'UTC' AS created_utc
    FROM spec_classified c
    WHERE c.code IS NULL
)
SELECT order_id,
       customer_id,
       coalesce(store_id, '') AS store_id,
       restaurant_id,
       amt AS order_amount,
       fee AS delivery_fee,
       disc AS discount_amount,
       amt + fee - disc AS total_value,
       st AS status,
       CASE WHEN payment_method IS NULL THEN NULL
            WHEN lower(spec_trim(payment_method)) IN ('upi','card','netbanking','wallet','cod','emi')
                THEN lower(spec_trim(payment_method))
            ELSE 'unknown' END AS payment_method,
       nullif(lower(payment_status), '') AS payment_status,
       CASE WHEN amt >= 2000 THEN 'premium' WHEN amt >= 500 THEN 'standard'
            ELSE 'economy' END AS order_tier,
       created_utc::date AS order_date,
       extract(hour FROM created_utc)::int AS order_hour,
       to_char(created_utc, 'YYYY-MM') AS order_month,
       round(extract(epoch FROM delivered_at - created_at) / 60, 1) AS delivery_minutes,
       CASE WHEN st = 'cancelled' THEN
           CASE WHEN lower(cancellation_reason) IN
                     ('payment_failed','restaurant_closed','no_rider_available')
                THEN 'system' ELSE 'customer' END END AS cancellation_type,
       cancellation_reason,
       coalesce(promo_code, '') <> '' AS has_promo,
       promo_code,
       created_at, updated_at, delivered_at, cancelled_at
FROM valid;
