-- The newest step of every flexibility event still going on (not CANCELLED, not STATS_READY): the state the
-- events task resumes from (pipelines/events-task.ts). FINAL: a SCHEDULED step re-issued, same sequence, for an
-- event widened by a dispatch command is read as its newer row.
SELECT *
FROM
(
    SELECT
        event_id, tenant, step, status, sequence, at_ms, source, asset_ids, direction, start_ms, end_ms,
        target_amount, target_unit, methodology, baseline_issue, delivered_kwh, target_kwh, share_with_data,
        data_quality, reason
    FROM flex_events FINAL
    ORDER BY event_id, sequence DESC
    LIMIT 1 BY event_id
)
WHERE status NOT IN ('CANCELLED', 'STATS_READY')
ORDER BY start_ms, event_id
