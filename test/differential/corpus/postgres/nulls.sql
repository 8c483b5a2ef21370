-- NULLs: ordering, grouping, aggregates over nothing, NULL-producing expressions.
SELECT id, nullif(status, 'pending') AS s FROM payments ORDER BY s NULLS FIRST, id LIMIT 10;
SELECT id, nullif(status, 'pending') AS s FROM payments ORDER BY s NULLS LAST, id DESC LIMIT 10;
SELECT id, CASE WHEN vip THEN name END AS vipname FROM users ORDER BY vipname NULLS FIRST, id LIMIT 12;
SELECT NULL::int AS nothing FROM users WHERE user_id = 1;
SELECT array_agg(nullif(event, 'view') ORDER BY id) FROM analytics_events WHERE user_id = 3;
