-- Subqueries: on the shard key (co-located) and in FROM.
SELECT count(*) FROM users WHERE id IN (SELECT id FROM posts);
SELECT id, name FROM users WHERE id NOT IN (SELECT id FROM posts WHERE title LIKE 'post 1%') ORDER BY id;
SELECT count(*) FROM payments WHERE id IN (SELECT post_id FROM likes) AND amount > 10;
SELECT count(*) FROM payments WHERE id NOT IN (SELECT post_id FROM likes WHERE post_id < 0);
SELECT count(*) FROM payments WHERE id IN (SELECT post_id FROM likes WHERE post_id < 0);
SELECT id FROM users WHERE name IN (SELECT currency FROM payments) ORDER BY id;
SELECT id FROM users WHERE email IN (SELECT title FROM posts) OR id = 3 ORDER BY id;
SELECT u.id FROM users u WHERE u.id IN (SELECT p.id FROM posts p WHERE p.user_id = u.user_id) ORDER BY 1;
SELECT id FROM comments WHERE post_id IN (SELECT id FROM posts WHERE body = 'HELLO') ORDER BY id;
