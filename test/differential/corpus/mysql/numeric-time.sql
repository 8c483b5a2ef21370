-- DECIMAL scale, integer widths, doubles, dates and times (literals: created_at differs per load).
SELECT avg(CAST(balance AS DECIMAL(20, 6))) FROM balances;
SELECT sum(CAST(amount AS SIGNED)) FROM payments;
SELECT avg(CAST(amount AS SIGNED)) FROM payments;
SELECT max(CAST(amount AS DOUBLE)), min(CAST(amount AS FLOAT)) FROM payments;
SELECT sum(score) FROM recommendations;
SELECT min(DATE '2024-01-01' + INTERVAL id DAY) AS first_day, max(DATE '2024-01-01' + INTERVAL id DAY) AS last_day FROM posts;
SELECT id, TIMESTAMP '2024-03-01 12:00:00' + INTERVAL id HOUR AS at FROM users ORDER BY at DESC LIMIT 5;
SELECT id, CAST(amount * 100 AS SIGNED) AS cents FROM payments ORDER BY cents DESC, id LIMIT 5;
SELECT sum(9223372036854775807) FROM users;
SELECT max(id / 7) FROM users;
