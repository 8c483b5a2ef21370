-- Writes with a known shard key (RETURNING on INSERT/DELETE, MariaDB 10.5+), then a read that
-- compares what they changed.
INSERT INTO users (id, user_id, name, email) VALUES (900001, 7, 'dml one', 'one@example.com') RETURNING id, user_id, name, vip;
INSERT INTO users (id, user_id, name) VALUES (900002, 8, 'dml two'), (900003, 9, 'dml three');
INSERT INTO payments (id, user_id, amount, status) VALUES (900004, 7, 12.345, 'pending');
SELECT id, user_id, name, email, vip FROM users WHERE id >= 900000 ORDER BY id;
UPDATE users SET vip = true WHERE user_id = 7;
UPDATE payments SET amount = amount + 1 WHERE user_id = 7 AND status = 'pending';
REPLACE INTO balances (id, user_id, balance) VALUES (920001, 15, 3.5);
REPLACE INTO balances (id, user_id, balance) VALUES (920001, 15, 4.5);
SELECT id, user_id, balance FROM balances WHERE id >= 920000 ORDER BY id;
