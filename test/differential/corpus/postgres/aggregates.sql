-- Aggregates over a whole sharded table (scatter, merged by shardgate).
SELECT count(*), count(vip) FROM users;
SELECT count(*) FILTER (WHERE status = 'settled') AS settled, count(*) AS all_rows FROM payments;
SELECT sum(amount) FILTER (WHERE status = 'pending') FROM payments;
SELECT avg(amount) FILTER (WHERE status = 'settled') FROM payments;
SELECT count(DISTINCT post_id) FROM likes;
SELECT string_agg(name, ',' ORDER BY name) FROM users WHERE user_id < 8;
SELECT array_agg(id ORDER BY id) FROM posts WHERE user_id IN (1, 2, 3, 4);
SELECT bool_and(vip), bool_or(vip) FROM users;
SELECT bool_and(amount > 0), bool_or(amount > 400) FROM payments;
SELECT every(balance >= 0) FROM balances;
SELECT stddev(amount), variance(amount) FROM payments;
SELECT stddev(id) FROM posts;
-- Computed by the proxy from per-shard partials.
SELECT round(avg(amount), 2) AS mean, max(amount) - min(amount) AS spread FROM payments;
SELECT status, sum(amount) / nullif(count(*), 0) AS per_row, count(DISTINCT user_id) FROM payments GROUP BY status ORDER BY 1;
SELECT currency, string_agg(status, ',' ORDER BY status DESC, id), array_agg(id ORDER BY amount, id) FROM payments GROUP BY currency ORDER BY 1;
SELECT count(DISTINCT status), sum(DISTINCT amount), avg(DISTINCT user_id) FROM payments WHERE user_id < 10;
SELECT status, count(*) FILTER (WHERE amount > 100) AS big FROM payments GROUP BY status HAVING avg(amount) > 10 ORDER BY 1;
SELECT coalesce(sum(amount), 0) AS total, round(stddev(amount), 3) AS sd FROM payments WHERE user_id > 1000;
SELECT array_agg(DISTINCT status), (count(*) * 2)::int AS twice FROM payments;
