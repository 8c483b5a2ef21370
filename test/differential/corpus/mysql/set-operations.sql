-- UNION [ALL], INTERSECT, EXCEPT (MariaDB 10.3+).
SELECT user_id FROM likes WHERE user_id < 5 UNION SELECT user_id FROM posts WHERE user_id < 7 ORDER BY 1;
SELECT user_id FROM likes WHERE user_id < 5 UNION ALL SELECT user_id FROM posts WHERE user_id < 7 ORDER BY 1;
SELECT status FROM payments UNION SELECT event FROM analytics_events ORDER BY 1;
SELECT id FROM users WHERE user_id = 3 UNION ALL SELECT id FROM posts WHERE user_id = 3 ORDER BY 1;
SELECT user_id FROM likes INTERSECT SELECT user_id FROM posts ORDER BY 1;
SELECT user_id FROM users EXCEPT SELECT user_id FROM likes ORDER BY 1;
SELECT topic FROM trending_topics UNION SELECT name FROM users WHERE user_id < 3 ORDER BY 1;
