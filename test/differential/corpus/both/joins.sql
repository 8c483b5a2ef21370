-- Joins co-located on the shard key, and with a reference table;
-- spelled alike in PostgreSQL and MySQL, so run through both front ends.
SELECT count(*) FROM users u JOIN posts p ON p.user_id = u.user_id;
SELECT u.id, p.id FROM users u JOIN posts p ON p.user_id = u.user_id WHERE u.user_id < 6 ORDER BY 1, 2;
SELECT u.name, count(p.id) FROM users u LEFT JOIN payments p ON p.user_id = u.user_id AND p.amount > 300 GROUP BY u.name ORDER BY 1;
SELECT p.id, t.topic FROM posts p JOIN trending_topics t ON t.id = p.id % 8 + 1 WHERE p.user_id < 4 ORDER BY 1;
SELECT count(*) FROM likes l JOIN users u USING (user_id) WHERE u.vip;
