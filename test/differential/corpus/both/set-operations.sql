-- UNION and INTERSECT; spelled alike in PostgreSQL and MySQL, so run through both front ends.
SELECT status FROM payments UNION SELECT event FROM analytics_events ORDER BY 1;
SELECT user_id FROM payments INTERSECT SELECT user_id FROM likes ORDER BY 1;
