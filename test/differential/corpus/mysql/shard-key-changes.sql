-- Shard-key changes through the MySQL port: an UPDATE that sets user_id to a value another shard
-- owns moves the rows (UPDATE on the old shards, DELETE ... RETURNING there, INSERT on the new
-- key's shard, one XA cross-shard transaction). 8 and 10 live on other shards than 700202 and
-- 700204 on both 2 and 3 shards; reads by the new and the old key compare where the rows went,
-- and the UPDATE's affected rows compare with the oracle's.
INSERT INTO users (id, user_id, name, email) VALUES (910001, 8, 'key one', 'k1@example.com'), (910002, 8, 'key two', 'k2@example.com'), (910003, 10, 'key three', 'k3@example.com');
UPDATE users SET user_id = 700202 WHERE user_id = 8 AND id = 910001;
SELECT id, user_id, name, email, vip FROM users WHERE user_id = 700202 ORDER BY id;
SELECT id, name FROM users WHERE user_id = 8 AND id >= 910000 ORDER BY id;
UPDATE users SET user_id = 700204, name = 'key two moved', vip = NOT vip WHERE user_id = 8 AND id = 910002;
SELECT id, user_id, name, vip, email FROM users WHERE user_id = 700204 ORDER BY id;
UPDATE users SET user_id = '700202' WHERE user_id IN (8, 10) AND id >= 910000;
SELECT id, user_id, name FROM users WHERE id >= 910000 ORDER BY id;
SELECT count(*) FROM users WHERE user_id IN (8, 10) AND id >= 910000;
UPDATE users SET user_id = 700202, name = 'key one' WHERE user_id = 700202 AND id = 910001;
UPDATE payments SET user_id = 700204, amount = amount + 1 WHERE user_id = 7;
SELECT count(*), sum(amount) FROM payments WHERE user_id = 700204;
SELECT count(*) FROM payments WHERE user_id = 7;
SELECT count(*), sum(amount) FROM payments;
UPDATE users SET user_id = 700202 WHERE user_id = 424242;
UPDATE users SET user_id = user_id + 1 WHERE user_id = 9;
INSERT INTO users (id, user_id) VALUES (910001, 700202) ON DUPLICATE KEY UPDATE user_id = 8;
