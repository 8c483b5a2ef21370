-- NULLs: MySQL sorts NULL first ascending, last descending; aggregates over nothing.
SELECT id, nullif(status, 'pending') AS s FROM payments ORDER BY s, id LIMIT 10;
SELECT id, CASE WHEN vip THEN name END AS vipname FROM users ORDER BY vipname, id LIMIT 12;
SELECT id, if(vip, NULL, name) AS n FROM users ORDER BY n DESC, id LIMIT 6;
