-- The newest stream time any flexibility-event step was made at: where a resumed events task's clock starts.
SELECT max(at_ms) AS at_ms, count() AS steps FROM flex_events
