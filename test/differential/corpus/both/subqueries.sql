-- Subqueries: on the shard key (co-located) and in FROM;
-- spelled alike in PostgreSQL and MySQL, so run through both front ends.
SELECT id, user_id FROM payments WHERE user_id IN (SELECT user_id FROM users WHERE vip) ORDER BY id;
SELECT count(*) FROM posts WHERE user_id IN (SELECT user_id FROM balances WHERE balance > 900);
SELECT id FROM users u WHERE EXISTS (SELECT 1 FROM payments p WHERE p.user_id = u.user_id AND p.amount > 450) ORDER BY id;
SELECT id FROM users u WHERE NOT EXISTS (SELECT 1 FROM likes l WHERE l.user_id = u.user_id) ORDER BY id;
SELECT t.user_id, t.n FROM (SELECT user_id, count(*) AS n FROM likes GROUP BY user_id) t ORDER BY t.user_id;
SELECT count(*) FROM (SELECT user_id FROM payments WHERE amount > 100) s;
SELECT id, (SELECT count(*) FROM posts p WHERE p.user_id = u.user_id) AS posts FROM users u ORDER BY id;
SELECT max(n) FROM (SELECT user_id, count(*) AS n FROM likes GROUP BY user_id) t;
SELECT id FROM users WHERE user_id = 5 AND id IN (SELECT user_id FROM posts WHERE user_id = 5);
