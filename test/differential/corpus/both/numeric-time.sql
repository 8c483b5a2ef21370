-- Numeric scale and integer widths;
-- spelled alike in PostgreSQL and MySQL, so run through both front ends.
SELECT sum(amount), avg(amount) FROM payments WHERE user_id < 10;
SELECT sum(balance * 1.005) FROM balances;
SELECT avg(1.0 / (id + 1)) FROM users;
SELECT sum(amount) / 3 FROM payments;
SELECT id, amount FROM payments ORDER BY amount, id LIMIT 5;
SELECT sum(2147483647) FROM users;
