-- NULLs: ordering, grouping, aggregates over nothing, NULL-producing expressions.
SELECT id, nullif(status, 'pending') AS s FROM payments ORDER BY s NULLS FIRST, id LIMIT 10;
SELECT id, nullif(status, 'pending') AS s FROM payments ORDER BY s DESC, id LIMIT 10;
SELECT id, nullif(status, 'pending') AS s FROM payments ORDER BY s NULLS LAST, id DESC LIMIT 10;
SELECT nullif(status, 'pending') AS s, count(*) FROM payments GROUP BY 1 ORDER BY 1;
SELECT DISTINCT nullif(vip, false) AS v FROM users ORDER BY 1;
SELECT min(nullif(status, 'pending')), max(nullif(status, 'settled')) FROM payments;
SELECT count(nullif(status, 'pending')), sum(nullif(amount, amount)) FROM payments;
SELECT avg(nullif(amount, amount)) FROM payments;
SELECT sum(amount), min(amount), count(amount), avg(amount) FROM payments WHERE user_id = 999999;
SELECT id, CASE WHEN vip THEN name END AS vipname FROM users ORDER BY vipname NULLS FIRST, id LIMIT 12;
SELECT count(*) FROM users WHERE NULL;
SELECT NULL::int AS nothing FROM users WHERE user_id = 1;
SELECT coalesce(max(balance), -1) FROM balances WHERE balance > 5000;
SELECT array_agg(nullif(event, 'view') ORDER BY id) FROM analytics_events WHERE user_id = 3;
