-- INSERT ... ON CONFLICT on a known shard key.
INSERT INTO balances (id, user_id, balance) VALUES (910001, 11, 10.50) ON CONFLICT (id) DO NOTHING RETURNING id, balance;
INSERT INTO balances (id, user_id, balance) VALUES (910001, 11, 99.99) ON CONFLICT (id) DO NOTHING RETURNING id, balance;
INSERT INTO balances (id, user_id, balance) VALUES (910001, 11, 20.25) ON CONFLICT (id) DO UPDATE SET balance = balances.balance + EXCLUDED.balance RETURNING id, balance;
INSERT INTO balances (id, user_id, balance) VALUES (910002, 12, 1), (910003, 13, 2) ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance RETURNING id, balance;
INSERT INTO balances (id, user_id, balance) VALUES (910002, 12, 5), (910003, 13, 6) ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance;
SELECT id, user_id, balance FROM balances WHERE id >= 910000 ORDER BY id;
INSERT INTO users (id, user_id, name) VALUES (12, 12, 'again') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING id, name;
INSERT INTO users (id, user_id, name) VALUES (12, 12, 'ignored') ON CONFLICT DO NOTHING;
SELECT id, name FROM users WHERE user_id = 12;
INSERT INTO balances (id, user_id, balance) VALUES (910004, 14, 1) ON CONFLICT (id) DO UPDATE SET balance = 0 WHERE balances.balance > 100;
