-- NULLs: ordering, grouping, aggregates over nothing, NULL-producing expressions;
-- spelled alike in PostgreSQL and MySQL, so run through both front ends.
SELECT id, nullif(status, 'pending') AS s FROM payments ORDER BY s DESC, id LIMIT 10;
SELECT nullif(status, 'pending') AS s, count(*) FROM payments GROUP BY 1 ORDER BY 1;
SELECT DISTINCT nullif(vip, false) AS v FROM users ORDER BY 1;
SELECT min(nullif(status, 'pending')), max(nullif(status, 'settled')) FROM payments;
SELECT count(nullif(status, 'pending')), sum(nullif(amount, amount)) FROM payments;
SELECT avg(nullif(amount, amount)) FROM payments;
SELECT sum(amount), min(amount), count(amount), avg(amount) FROM payments WHERE user_id = 999999;
SELECT count(*) FROM users WHERE NULL;
SELECT coalesce(max(balance), -1) FROM balances WHERE balance > 5000;
