-- The baselines of one issue (day-ahead or adjusted) of a flexibility event, per asset and period: what its
-- stats are computed against.
SELECT asset_id, period_start_ms, baseline_kw
FROM flex_event_baselines FINAL
WHERE event_id = {event_id:String} AND issue = {issue:String}
ORDER BY asset_id, period_start_ms
