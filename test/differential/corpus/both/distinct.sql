-- DISTINCT merged across shards;
-- spelled alike in PostgreSQL and MySQL, so run through both front ends.
SELECT DISTINCT status FROM payments ORDER BY status;
SELECT DISTINCT vip FROM users;
