-- Flexibility events (pipelines/events-task.ts): every lifecycle step of an event, the baselines issued for it
-- and the flexibility it delivered. The events task writes all three itself, before it puts the steps on
-- gridstream.event-lifecycle, so the steps this table holds are the state a restarted task resumes from.
-- Times are epoch-ms UInt64 columns, the same on every server version.
CREATE TABLE IF NOT EXISTS flex_events
(
    event_id String COMMENT 'Event id (gridstream.events key).',
    tenant String COMMENT 'Tenant the event belongs to: the tenant of its assets'' DTs.',
    step String COMMENT 'SCHEDULED, BASELINES_READY, STARTED, ENDED, CANCELLED, STATS_CALCULATION_STARTED or STATS_READY.',
    status String COMMENT 'The event''s status after the step (BASELINES_READY does not change it).',
    sequence UInt32 COMMENT 'Step number: 1 for SCHEDULED, one more each step (the highest is current).',
    at_ms UInt64 COMMENT 'Event time of the step, epoch ms.',
    source String COMMENT 'api or dispatch.',
    asset_ids Array(String) COMMENT 'The event''s assets (topology_assets.asset_id).',
    direction String COMMENT 'turn-down or turn-up.',
    start_ms UInt64 COMMENT 'Start of the first 15-minute period, epoch ms.',
    end_ms UInt64 COMMENT 'End of the last period, epoch ms.',
    target_amount Nullable(String) COMMENT 'Target amount as given (decimal text); NULL: none.',
    target_unit Nullable(String) COMMENT 'Its unit: W, kW, MW (mean power) or Wh, kWh, MWh (energy).',
    methodology String COMMENT 'Baseline methodology, resolved, as JSON.',
    baseline_issue Nullable(String) COMMENT 'Newest baselines issued: day-ahead or adjusted; NULL before any.',
    delivered_kwh Nullable(Float64) COMMENT 'Delivered flexibility over the event, kWh (from STATS_READY).',
    target_kwh Nullable(Float64) COMMENT 'Target as energy over the event, kWh.',
    share_with_data Nullable(Float64) COMMENT 'Share of assets whose meter reported in every period (from STATS_READY).',
    data_quality Nullable(String) COMMENT 'ami_direct, ami_partial or none (from STATS_READY).',
    reason Nullable(String) COMMENT 'Why: a cancel''s source, or what kept baselines or stats from some assets.'
)
ENGINE = ReplacingMergeTree(sequence)
ORDER BY (event_id, sequence)
-- @if table_comment
COMMENT 'Flexibility events, one row per lifecycle step (the highest sequence of an event is its current state).';
-- @else
-- ;
-- @end

CREATE TABLE IF NOT EXISTS flex_event_baselines
(
    event_id String COMMENT 'Event id (flex_events.event_id).',
    issue String COMMENT 'day-ahead or adjusted.',
    asset_id String COMMENT 'Asset (topology_assets.asset_id).',
    meter_id Nullable(String) COMMENT 'The meter whose history the baseline is computed from; NULL when the asset has none.',
    period_start_ms UInt64 COMMENT 'Start of the 15-minute period, epoch ms.',
    baseline_kw Nullable(Float64) COMMENT 'Baseline: mean kW over the period (import positive), adjusted where the issue is adjusted; NULL: no baseline (see reason).',
    unadjusted_kw Nullable(Float64) COMMENT 'The like-day mean before the in-day adjustment.',
    issued_at_ms UInt64 COMMENT 'Stream time the baseline was computed at, epoch ms (only readings before it were read).',
    methodology String COMMENT 'Methodology name.',
    days_used Array(String) COMMENT 'Local dates (YYYY-MM-DD) averaged.',
    reason Nullable(String) COMMENT 'Why there is no baseline (too few like days, no meter), else NULL.'
)
ENGINE = ReplacingMergeTree(issued_at_ms)
ORDER BY (event_id, issue, asset_id, period_start_ms)
-- @if table_comment
COMMENT 'Baselines issued for flexibility events, per issue, asset and 15-minute period.';
-- @else
-- ;
-- @end

CREATE TABLE IF NOT EXISTS flex_event_stats
(
    event_id String COMMENT 'Event id (flex_events.event_id).',
    asset_id String COMMENT 'Asset (topology_assets.asset_id).',
    meter_id Nullable(String) COMMENT 'The meter read.',
    period_start_ms UInt64 COMMENT 'Start of the 15-minute period, epoch ms.',
    baseline_kw Nullable(Float64) COMMENT 'Baseline of the newest issue, mean kW.',
    metered_kw Nullable(Float64) COMMENT 'Metered mean kW over the period; NULL: no reading in it.',
    delivered_kw Nullable(Float64) COMMENT 'baseline − metered (turn-down) or metered − baseline (turn-up), kW; NULL without both.',
    delivered_kwh Nullable(Float64) COMMENT 'delivered_kw × 0.25 h.',
    readings UInt32 COMMENT 'Readings of the meter in the period.',
    data_quality String COMMENT 'ami_direct: baseline and a reading; none: either missing.',
    computed_at_ms UInt64 COMMENT 'Stream time the stats were computed at, epoch ms.'
)
ENGINE = ReplacingMergeTree(computed_at_ms)
ORDER BY (event_id, asset_id, period_start_ms)
-- @if table_comment
COMMENT 'Delivered flexibility per event, asset and 15-minute period.';
-- @else
-- ;
-- @end
