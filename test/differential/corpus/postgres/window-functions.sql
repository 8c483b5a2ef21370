-- Window functions: per shard when every partition lies on one shard, refused otherwise.
SELECT status, id, rank() OVER (PARTITION BY status ORDER BY amount DESC, id) AS r FROM payments ORDER BY status, id;
-- Partitions that span shards: the proxy gathers the rows and evaluates the windows.
SELECT user_id, id, row_number() OVER (ORDER BY id) AS n FROM posts ORDER BY user_id, id;
SELECT user_id, id, rank() OVER (ORDER BY user_id) AS r, dense_rank() OVER (ORDER BY user_id) AS d FROM likes ORDER BY id;
SELECT user_id, id, sum(amount) OVER (PARTITION BY status ORDER BY id) AS running FROM payments ORDER BY id;
SELECT user_id, id, avg(amount) OVER (PARTITION BY currency) AS mean FROM payments ORDER BY id LIMIT 7;
SELECT user_id, id, lag(id) OVER w AS prev, lead(id, 2, -1) OVER w AS next2 FROM comments WINDOW w AS (ORDER BY id DESC) ORDER BY id;
SELECT user_id, id, count(*) OVER () AS total, max(id) OVER (ORDER BY user_id NULLS FIRST) AS m FROM users ORDER BY id;
SELECT id, user_id, score, min(score) OVER (ORDER BY score DESC, id) AS lowest FROM recommendations ORDER BY id;
