-- Window functions: per shard when every partition lies on one shard; otherwise the shards return
-- the rows with the partition, order and argument values and the proxy computes them.
-- Partitions across shards, computed by the proxy: ranks, running and whole-partition aggregates
-- (DECIMAL sum / avg printed at MariaDB's scale), lag / lead with an offset and a default, text
-- partitions grouped under general_ci, a named window, then the statement's own ORDER BY / LIMIT.
SELECT user_id, id, dense_rank() OVER (PARTITION BY status ORDER BY amount DESC) AS r FROM payments ORDER BY user_id, id;
SELECT user_id, id, avg(amount) OVER (PARTITION BY status ORDER BY id) AS a, sum(amount) OVER (PARTITION BY status) AS s FROM payments ORDER BY user_id, id LIMIT 20;
SELECT user_id, id, avg(id) OVER () AS a, count(amount) OVER (ORDER BY user_id) AS c FROM payments ORDER BY user_id, id;
SELECT user_id, id, lead(id, 2, 0) OVER w AS nxt, lag(id) OVER w AS prev FROM comments WINDOW w AS (PARTITION BY post_id ORDER BY id) ORDER BY user_id, id;
SELECT user_id, id, min(id) OVER (ORDER BY id DESC) AS v, max(title) OVER (PARTITION BY user_id % 3) AS t FROM posts ORDER BY user_id, id LIMIT 12 OFFSET 5;
SELECT id, event, count(*) OVER (PARTITION BY event) AS n FROM analytics_events ORDER BY id;
-- Still refused: a frame clause, a window inside an expression, DISTINCT.
SELECT id, sum(amount) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM payments ORDER BY id;
SELECT id, 1 + row_number() OVER (ORDER BY id) AS rn FROM users ORDER BY id;
