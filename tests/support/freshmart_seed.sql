-- tests/support/freshmart_seed.sql: the FreshMart source schema and a deterministic order generator.
--
-- Used by the demo (scripts/demo.sh), the integration tests and the benchmark.
-- Every value derives from the order id through hashint8, so the same call
-- always produces the same rows. About 2% of rows are invalid (each rule of
-- spec §4 is represented) and some valid rows carry hostile text: quotes,
-- backslashes, tabs, newlines, control characters and multi-byte UTF-8.

CREATE TABLE IF NOT EXISTS public.orders (
    order_id            bigint,
    customer_id         bigint,
    store_id            text,
    restaurant_id       text,
    order_amount        numeric,
    delivery_fee        numeric,
    discount_amount     numeric,
    status              text,
    payment_method      text,
    payment_status      text,
    created_at          timestamptz,
    updated_at          timestamptz,
    delivered_at        timestamptz,
    cancelled_at        timestamptz,
    cancellation_reason text,
    promo_code          text,
    notes               text
);
CREATE INDEX IF NOT EXISTS orders_updated_at_idx ON public.orders (updated_at, order_id);

-- A uniform number in [0, 1) from (id, salt).
CREATE OR REPLACE FUNCTION freshmart_rand(id bigint, salt int) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT ((hashint8(id * 7919 + salt)::bigint + 2147483648) % 1000003)::double precision / 1000003
$$;

-- Picks one element of arr from (id, salt).
CREATE OR REPLACE FUNCTION freshmart_pick(id bigint, salt int, arr text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT arr[1 + floor(freshmart_rand(id, salt) * array_length(arr, 1))::int]
$$;

-- Inserts n orders with ids first_id .. first_id+n-1, created within `days`
-- days before `base`, and returns n.
CREATE OR REPLACE FUNCTION freshmart_seed(n bigint, first_id bigint DEFAULT 1,
                                          base timestamptz DEFAULT now(), days int DEFAULT 30)
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.orders
    WITH g AS (
        SELECT id,
               base - make_interval(secs => freshmart_rand(id, 1) * days * 86400) AS created,
               freshmart_pick(id, 2, ARRAY['delivered','delivered','delivered','delivered',
                   'delivered','delivered','delivered','cancelled','placed','confirmed',
                   'preparing','ready','picked_up','delivering']) AS status,
               CASE WHEN id % 50 = 7 THEN (id / 50) % 10 ELSE -1 END AS bad,
               freshmart_rand(id, 3) AS r
        FROM generate_series(first_id, first_id + n - 1) AS id
    ), v AS (
        SELECT g.*,
               least(created + make_interval(secs => 60 + freshmart_rand(id, 4) * 7200),
                     base) AS updated
        FROM g
    )
    SELECT
        CASE WHEN bad = 0 THEN NULL ELSE id END,
        CASE WHEN bad = 1 THEN 0 ELSE 1000 + (id * 37) % 90000 END,
        CASE WHEN r < 0.01 THEN NULL
             WHEN r < 0.02 THEN E'ST\t"quoted" \\back\\slash'
             ELSE 'BLR-' || lpad(((id * 13) % 400)::text, 3, '0') END,
        CASE WHEN r > 0.99 THEN NULL
             WHEN r > 0.98 THEN E'résto ☕ 東京 line1\nline2\r\u0001ctl'
             ELSE 'R' || ((id * 7) % 2500)::text END,
        CASE WHEN bad = 2 THEN NULL
             WHEN bad = 3 THEN 'NaN'::numeric
             WHEN bad = 4 THEN -5.5
             WHEN bad = 5 THEN 600000.01
             WHEN freshmart_rand(id, 5) < 0.05 THEN 499.995  -- rounds up into "standard"
             WHEN freshmart_rand(id, 5) < 0.08 THEN 1999.994 -- stays "standard"
             ELSE round((40 + freshmart_rand(id, 6) * freshmart_rand(id, 7) * 6000)::numeric, 3) END,
        CASE WHEN bad = 9 THEN 'NaN'::numeric
             WHEN freshmart_rand(id, 8) < 0.1 THEN NULL
             ELSE round((freshmart_rand(id, 9) * 80)::numeric, 2) END,
        CASE WHEN freshmart_rand(id, 10) < 0.6 THEN NULL
             ELSE round((freshmart_rand(id, 11) * 120)::numeric, 3) END,
        CASE WHEN bad = 6 THEN 'lost_in_space'
             WHEN freshmart_rand(id, 12) < 0.05 THEN '  ' || upper(status) || E'\t'
             ELSE status END,
        CASE WHEN freshmart_rand(id, 13) < 0.03 THEN NULL
             ELSE freshmart_pick(id, 14, ARRAY['upi','UPI',' card ','Card','netbanking',
                   'wallet','cod','emi','paypal','crypto']) END,
        CASE WHEN freshmart_rand(id, 15) < 0.05 THEN NULL
             ELSE freshmart_pick(id, 16, ARRAY['PAID','paid','Pending','FAILED','refunded','']) END,
        CASE WHEN bad = 8 THEN NULL ELSE created END,
        CASE WHEN bad = 7 THEN created - interval '1 hour' ELSE updated END,
        CASE WHEN status = 'delivered'
             THEN created + make_interval(secs => 600 + freshmart_rand(id, 17) * 4800) END,
        CASE WHEN status = 'cancelled' THEN updated END,
        CASE WHEN status = 'cancelled'
             THEN freshmart_pick(id, 18, ARRAY['payment_failed','RESTAURANT_CLOSED',
                   'no_rider_available','changed_mind','ordered by mistake',
                   E'it''s "late" \\ again']) END,
        CASE WHEN freshmart_rand(id, 19) < 0.7 THEN NULL
             WHEN freshmart_rand(id, 19) < 0.75 THEN ''
             ELSE freshmart_pick(id, 20, ARRAY['SAVE10','FIRST50','FEST"25',E'W\\IN']) END,
        CASE WHEN freshmart_rand(id, 21) < 0.5 THEN NULL
             ELSE E'ring twice; it''s "urgent"\n\\ gate 4 – 🚪' END
    FROM v;
    RETURN n;
END
$$;
