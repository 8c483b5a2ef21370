-- Window functions, per shard and across shards;
-- spelled alike in PostgreSQL and MySQL, so run through both front ends.
SELECT user_id, id, row_number() OVER (PARTITION BY user_id ORDER BY id) AS rn FROM posts ORDER BY user_id, id;
SELECT user_id, id, sum(amount) OVER (PARTITION BY user_id ORDER BY id) AS running FROM payments ORDER BY user_id, id;
SELECT user_id, id, count(*) OVER (PARTITION BY user_id) AS n FROM likes ORDER BY user_id, id LIMIT 15;
SELECT user_id, id, rank() OVER w AS r FROM comments WINDOW w AS (PARTITION BY user_id ORDER BY id DESC) ORDER BY user_id, id;
SELECT id, row_number() OVER (ORDER BY id) AS rn FROM users ORDER BY id;
SELECT id, sum(amount) OVER () AS total FROM payments ORDER BY id LIMIT 5;
SELECT user_id, id, lag(id) OVER (PARTITION BY user_id ORDER BY id) AS prev FROM posts WHERE user_id = 4 ORDER BY id;
