-- INSERT ... ON DUPLICATE KEY UPDATE and INSERT IGNORE on a known shard key.
INSERT IGNORE INTO balances (id, user_id, balance) VALUES (910001, 11, 10.50);
INSERT IGNORE INTO balances (id, user_id, balance) VALUES (910001, 11, 99.99);
INSERT INTO balances (id, user_id, balance) VALUES (910001, 11, 20.25) ON DUPLICATE KEY UPDATE balance = balance + VALUES(balance);
INSERT INTO balances (id, user_id, balance) VALUES (910002, 12, 1), (910003, 13, 2) ON DUPLICATE KEY UPDATE balance = VALUES(balance);
INSERT INTO balances (id, user_id, balance) VALUES (910002, 12, 5), (910003, 13, 6) ON DUPLICATE KEY UPDATE balance = VALUES(balance);
SELECT id, user_id, balance FROM balances WHERE id >= 910000 ORDER BY id;
INSERT INTO users (id, user_id, name) VALUES (12, 12, 'again') ON DUPLICATE KEY UPDATE name = VALUES(name);
INSERT IGNORE INTO users (id, user_id, name) VALUES (12, 12, 'ignored');
SELECT id, name FROM users WHERE user_id = 12;
INSERT INTO balances (id, user_id, balance) VALUES (910004, 14, 1) ON DUPLICATE KEY UPDATE balance = 0;
