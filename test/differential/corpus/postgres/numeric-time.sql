-- numeric scale, integer widths, floats, dates and times (literals: created_at differs per load).
SELECT avg(balance::numeric(20, 6)) FROM balances;
SELECT sum(amount::int) FROM payments;
SELECT avg(amount::int) FROM payments;
SELECT sum(id::int4) AS s4, sum(id::int2) AS s2, avg(id::int2) AS a2 FROM users;
SELECT max(amount::float8), min(amount::float4) FROM payments;
SELECT sum(score::float4) FROM recommendations;
SELECT min(date '2024-01-01' + id::int) AS first_day, max(date '2024-01-01' + id::int) AS last_day FROM posts;
SELECT id, timestamp '2024-03-01 12:00' + id * interval '1 hour' AS at FROM users ORDER BY at DESC LIMIT 5;
SELECT max(timestamptz '2024-03-01 12:00+00' + id * interval '1 minute') FROM likes;
SELECT sum(id * interval '1 second') FROM users;
SELECT avg(id * interval '1 second') FROM users;
SELECT id, (amount * 100)::bigint AS cents FROM payments ORDER BY cents DESC, id LIMIT 5;
SELECT sum(9223372036854775807::numeric) FROM users;
SELECT max(id::numeric / 7) FROM users;
