-- ORDER BY and LIMIT/OFFSET merged across shards.
SELECT id, amount FROM payments ORDER BY amount DESC, id LIMIT 5, 10;
SELECT id FROM comments ORDER BY id LIMIT 650, 100;
SELECT id, user_id FROM posts ORDER BY user_id, id LIMIT 1000, 5;
SELECT `id`, `user_id` FROM `likes` ORDER BY `id` DESC LIMIT 3;
SELECT id FROM users ORDER BY id DESC LIMIT 18446744073709551615;
