-- The delivered flexibility of a flexibility event by asset and period, for GET /v1/events/{id}/stats (FINAL:
-- stats computed again replace the earlier ones).
SELECT
    asset_id,
    meter_id,
    period_start_ms,
    baseline_kw,
    metered_kw,
    delivered_kw,
    delivered_kwh,
    readings,
    data_quality,
    computed_at_ms
FROM flex_event_stats FINAL
WHERE event_id = {event_id:String}
ORDER BY asset_id, period_start_ms
LIMIT {limit:UInt64} OFFSET {offset:UInt64}
