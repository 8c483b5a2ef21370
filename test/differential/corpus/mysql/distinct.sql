-- DISTINCT merged across shards.
SELECT DISTINCT status, currency FROM payments ORDER BY status, currency;
SELECT DISTINCT user_id FROM likes ORDER BY user_id LIMIT 10;
SELECT DISTINCT event FROM analytics_events ORDER BY event DESC;
SELECT DISTINCT post_id % 3 AS m FROM likes ORDER BY m;
SELECT DISTINCTROW status FROM payments ORDER BY 1;
SELECT DISTINCT topic FROM trending_topics ORDER BY topic;
