-- ORDER BY and LIMIT/OFFSET merged across shards.
SELECT id FROM comments ORDER BY id OFFSET 650;
SELECT id, balance FROM balances ORDER BY balance NULLS FIRST, id LIMIT 10;
-- SELECT * (created_at differs between the loads, so * reads through a subquery without it).
SELECT * FROM (SELECT id, post_id FROM likes) l ORDER BY post_id, id DESC LIMIT 7 OFFSET 3;
SELECT id, amount FROM payments ORDER BY amount DESC, id FETCH FIRST 5 ROWS ONLY;
SELECT id, user_id FROM posts ORDER BY user_id, id LIMIT 5 OFFSET 1000;
SELECT id FROM users ORDER BY id DESC LIMIT ALL;
