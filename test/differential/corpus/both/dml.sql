-- The writes and reads that follow postgres/dml.sql and mysql/dml.sql, spelled alike in both
-- dialects: run on both front ends.
UPDATE payments SET amount = amount * 2 WHERE user_id = 7 AND id = 900004;
SELECT id, amount, status FROM payments WHERE user_id = 7 ORDER BY id;
DELETE FROM users WHERE user_id = 9 AND id = 900003 RETURNING id, name;
DELETE FROM posts WHERE user_id = 8 AND title LIKE 'post 1%';
SELECT id, user_id, name FROM users WHERE id >= 900000 ORDER BY id;
SELECT count(*) FROM posts WHERE user_id = 8;
UPDATE users SET name = 'nobody' WHERE user_id = 424242;
INSERT INTO payments (id, user_id, amount) VALUES (900005, 7, -1) RETURNING amount, currency, status;
INSERT INTO payments (id, user_id, amount) VALUES (900004, 7, 1);
UPDATE users SET name = upper(name) WHERE vip;
DELETE FROM likes WHERE post_id = 3;
UPDATE users SET user_id = 700202 WHERE user_id = 7;
SELECT id, user_id, name FROM users WHERE user_id = 700202 ORDER BY id;
SELECT count(*), sum(amount) FROM payments;
