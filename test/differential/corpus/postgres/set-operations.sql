-- UNION [ALL], INTERSECT, EXCEPT.
SELECT user_id FROM payments UNION SELECT user_id FROM likes ORDER BY 1;
SELECT user_id FROM payments UNION ALL SELECT user_id FROM likes ORDER BY 1;
SELECT status FROM payments UNION SELECT event FROM analytics_events ORDER BY 1;
SELECT status FROM payments UNION SELECT event FROM analytics_events;
SELECT id FROM posts WHERE user_id < 4 UNION ALL SELECT id FROM comments WHERE user_id < 4 ORDER BY 1 LIMIT 10;
SELECT name FROM users WHERE vip UNION SELECT name FROM users WHERE user_id < 3 ORDER BY 1;
SELECT topic FROM trending_topics UNION SELECT status FROM payments ORDER BY 1;
SELECT user_id FROM payments INTERSECT SELECT user_id FROM likes ORDER BY 1;
SELECT user_id FROM users EXCEPT SELECT user_id FROM payments WHERE amount > 200 ORDER BY 1;
SELECT id FROM users WHERE user_id = 2 UNION SELECT id FROM posts WHERE user_id = 2 ORDER BY 1;
