-- Common table expressions.
WITH big AS (SELECT id, user_id, amount FROM payments WHERE amount > 300) SELECT id, user_id, amount FROM big ORDER BY id;
WITH big AS (SELECT id, amount FROM payments WHERE amount > 300) SELECT count(*) FROM big;
WITH big AS (SELECT id, amount FROM payments WHERE amount > 300) SELECT sum(amount) FROM big;
WITH per_user AS (SELECT user_id, count(*) AS n FROM posts GROUP BY user_id) SELECT user_id, n FROM per_user ORDER BY user_id;
WITH one AS (SELECT id, name FROM users WHERE user_id = 4) SELECT id, name FROM one;
WITH totals AS (SELECT sum(amount) AS s FROM payments) SELECT s FROM totals;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i FROM n ORDER BY i;
