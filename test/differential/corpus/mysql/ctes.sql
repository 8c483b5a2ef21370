-- Common table expressions (MariaDB 10.2+).
WITH x AS (SELECT id, user_id FROM posts WHERE user_id = 5) SELECT count(*) FROM x;
WITH x AS (SELECT id, amount FROM payments) SELECT id, amount FROM x ORDER BY amount DESC, id LIMIT 5;
WITH x AS (SELECT user_id, count(*) AS n FROM likes GROUP BY user_id) SELECT max(n) FROM x;
WITH x AS (SELECT id FROM users) SELECT count(*) FROM x;
WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n FROM r ORDER BY n;
WITH x AS (SELECT post_id, id, body FROM comments WHERE id >= 20) SELECT post_id, id, body FROM x ORDER BY 3, 2 LIMIT 12;
WITH x AS (SELECT name AS n, id FROM users) SELECT n, count(*) FROM x GROUP BY n ORDER BY 1;
