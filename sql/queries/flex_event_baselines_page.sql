-- The baselines of one issue (day-ahead or adjusted) of a flexibility event, by asset and period, for
-- GET /v1/events/{id}/baselines (FINAL: a baseline issued again replaces the earlier one).
SELECT
    asset_id,
    meter_id,
    period_start_ms,
    baseline_kw,
    unadjusted_kw,
    issued_at_ms,
    methodology,
    days_used,
    reason
FROM flex_event_baselines FINAL
WHERE event_id = {event_id:String}
  AND issue = {issue:String}
ORDER BY asset_id, period_start_ms
LIMIT {limit:UInt64} OFFSET {offset:UInt64}
