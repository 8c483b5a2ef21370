-- Joins: co-located on the shard key (per shard is exact), with a reference table, and not.
SELECT count(*) FROM users u JOIN posts p ON p.id = u.id;
SELECT count(*) FROM payments p JOIN balances b ON b.id = p.id;
-- Across shards (the broadcast join: the later table fetched from every shard, put back as
-- JSON_TABLE with its declared types and collations; the IN subquery as a list of literals).
SELECT l.id, p.title FROM likes l JOIN posts p ON p.id = l.post_id ORDER BY 1, 2 LIMIT 10;
SELECT l.id, p.title, p.user_id FROM likes l LEFT JOIN posts p ON p.id = l.post_id WHERE l.user_id < 9 ORDER BY l.id;
SELECT u.name, count(p.id) AS n, sum(p.amount) AS s FROM users u JOIN payments p ON p.id = u.id GROUP BY u.name ORDER BY 1;
SELECT count(*), count(b.id), sum(b.balance) FROM payments p LEFT JOIN balances b ON b.id = p.id AND b.balance > 500;
SELECT p.id, u.email, u.vip FROM posts p JOIN users u ON u.id = p.id WHERE u.email <> '' ORDER BY 1 LIMIT 7 OFFSET 2;
SELECT u.id FROM users u JOIN payments p ON p.currency = u.name ORDER BY 1;
SELECT count(*) FROM users u, posts p WHERE p.id = u.id AND p.title LIKE 'post%';
SELECT count(*) FROM comments c JOIN likes l USING (id);
SELECT r.id, r.score, a.event FROM recommendations r JOIN analytics_events a ON a.id = r.item_id ORDER BY 1, 3;
SELECT c.id, p.user_id FROM comments c JOIN posts p ON p.id = c.post_id AND p.user_id = 3 ORDER BY 1;
SELECT count(*) FROM users u JOIN posts p ON p.id = u.id WHERE p.id < 0;
SELECT count(*) FROM users u JOIN posts p ON p.id = u.id JOIN likes l ON l.post_id = p.id;
SELECT u.id FROM users u RIGHT JOIN posts p ON p.id = u.id ORDER BY 1 LIMIT 3;
