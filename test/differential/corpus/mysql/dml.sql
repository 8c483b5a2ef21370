-- Writes with a known shard key (RETURNING on INSERT/DELETE, MariaDB 10.5+), then a read that
-- compares what they changed.
INSERT INTO users (id, user_id, name, email) VALUES (900001, 7, 'dml one', 'one@example.com') RETURNING id, user_id, name, vip;
INSERT INTO users (id, user_id, name) VALUES (900002, 8, 'dml two'), (900003, 9, 'dml three');
INSERT INTO payments (id, user_id, amount, status) VALUES (900004, 7, 12.345, 'pending');
SELECT id, user_id, name, email, vip FROM users WHERE id >= 900000 ORDER BY id;
UPDATE users SET vip = true WHERE user_id = 7;
UPDATE payments SET amount = amount + 1 WHERE user_id = 7 AND status = 'pending';
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
REPLACE INTO balances (id, user_id, balance) VALUES (920001, 15, 3.5);
REPLACE INTO balances (id, user_id, balance) VALUES (920001, 15, 4.5);
SELECT id, user_id, balance FROM balances WHERE id >= 920000 ORDER BY id;
UPDATE users SET user_id = 700202 WHERE user_id = 7;
SELECT id, user_id, name FROM users WHERE user_id = 700202 ORDER BY id;
SELECT count(*), sum(amount) FROM payments;
