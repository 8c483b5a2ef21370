-- ORDER BY and LIMIT/OFFSET merged across shards;
-- spelled alike in PostgreSQL and MySQL, so run through both front ends.
SELECT id, user_id, name FROM users ORDER BY id;
SELECT id, amount FROM payments ORDER BY amount DESC, id LIMIT 10 OFFSET 5;
SELECT id, title FROM posts ORDER BY title DESC, id LIMIT 7;
SELECT id, user_id FROM likes ORDER BY user_id, id LIMIT 20;
SELECT id, user_id FROM likes ORDER BY user_id DESC, id DESC LIMIT 20 OFFSET 40;
SELECT id FROM comments ORDER BY id LIMIT 0;
SELECT id, score FROM recommendations ORDER BY score DESC, id LIMIT 12;
SELECT id, balance FROM balances ORDER BY balance, id LIMIT 10;
SELECT name FROM users ORDER BY name LIMIT 10;
SELECT * FROM (SELECT id, user_id, name, email, vip FROM users) u ORDER BY id LIMIT 5;
SELECT * FROM (SELECT id, user_id, balance FROM balances) b ORDER BY balance DESC, id LIMIT 5;
SELECT id, user_id, name, email, vip FROM users ORDER BY vip DESC, id LIMIT 8;
SELECT topic FROM trending_topics ORDER BY score DESC LIMIT 3;
SELECT id, upper(name) AS n FROM users ORDER BY n, id LIMIT 5;
SELECT id, amount * 2 AS doubled FROM payments ORDER BY doubled, id LIMIT 5;
SELECT id, user_id FROM posts WHERE user_id = 3 ORDER BY id;
