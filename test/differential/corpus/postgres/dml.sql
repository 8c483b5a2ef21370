-- Writes with a known shard key, RETURNING, then a read that compares what they changed.
INSERT INTO users (id, user_id, name, email) VALUES (900001, 7, 'dml one', 'one@example.com') RETURNING id, user_id, name, vip;
INSERT INTO users (id, user_id, name) VALUES (900002, 8, 'dml two'), (900003, 9, 'dml three') RETURNING id, name;
INSERT INTO payments (id, user_id, amount, status) VALUES (900004, 7, 12.345, 'pending') RETURNING amount;
SELECT id, user_id, name, email, vip FROM users WHERE id >= 900000 ORDER BY id;
UPDATE users SET vip = true WHERE user_id = 7 RETURNING id, vip;
UPDATE payments SET amount = amount + 1 WHERE user_id = 7 AND status = 'pending' RETURNING id, amount;
