-- Dispatch commands checked against the operating envelope of the DT their asset sits behind (topic
-- gridstream.dispatch-checks, processors/dispatch-check.ts). GET /v1/dispatches shows each command with its check.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers; see sql/006_dispatches.sql, whose time columns these follow.
CREATE TABLE IF NOT EXISTS dispatch_checks
(
    event_id String COMMENT 'The dispatch command''s event id (dispatches.event_id).',
    asset_id String COMMENT 'Asset the command is for.',
-- @if datetime64
    dispatch_time DateTime64(3, 'UTC') COMMENT 'When the command was issued, UTC: the envelope issue in force then is the one checked against.',
    delivery_period_start DateTime64(3, 'UTC') COMMENT 'Start of the delivery period, UTC; the slot checked is the quarter hour containing it.',
    envelope_issued_at Nullable(DateTime64(3, 'UTC')) COMMENT 'issued_at of the envelope issue used, UTC; NULL without one.',
    checked_at DateTime64(3, 'UTC') COMMENT 'When the check was made, UTC (ReplacingMergeTree version: the newest check of a command is kept).',
-- @else
--  dispatch_time String COMMENT 'When the command was issued, UTC, as text YYYY-MM-DD hh:mm:ss.sss: the envelope issue in force then is the one checked against.',
--  delivery_period_start String COMMENT 'Start of the delivery period, UTC, as text YYYY-MM-DD hh:mm:ss.sss; the slot checked is the quarter hour containing it.',
--  envelope_issued_at Nullable(String) COMMENT 'issued_at of the envelope issue used, UTC, as text YYYY-MM-DD hh:mm:ss.sss; NULL without one.',
--  checked_at String COMMENT 'When the check was made, UTC, as text YYYY-MM-DD hh:mm:ss.sss (the newest check of a command is kept).',
--  checked_at_ms UInt64 MATERIALIZED toUInt64(toDateTime(substring(checked_at, 1, 19), 'UTC')) * 1000 + toUInt64(substring(checked_at, 21, 3)) + throwIf(length(checked_at) != 23) COMMENT 'checked_at as epoch milliseconds (computed on insert); the ReplacingMergeTree version.',
-- @end
    dt_id Nullable(String) COMMENT 'The asset''s DT from the topology (topology_assets); NULL when the asset is not placed.',
    requested_kw Float64 COMMENT 'Target power, kW, toward the grid: positive injects (export at the DT), negative withdraws (import).',
    headroom_kw Nullable(Float64) COMMENT 'The envelope''s extra export (requested_kw > 0) or import (< 0) for the slot, kW; NULL without an envelope.',
    limited_by Nullable(String) COMMENT 'The limit binding that headroom: load_factor, hot_spot, top_oil or voltage; NULL without an envelope.',
    data_quality Nullable(String) COMMENT 'Data-quality tier of the envelope used; NULL without one.',
    verdict Enum8('within' = 1, 'exceeds' = 2, 'no_envelope' = 3, 'unknown_asset' = 4) COMMENT 'within: |requested_kw| <= headroom_kw; exceeds: over it (the dispatch is rejected); no_envelope: no issue covered the slot at the dispatch time; unknown_asset: the asset is not in the topology.'
)
-- @if datetime64
ENGINE = ReplacingMergeTree(checked_at)
PARTITION BY toYYYYMM(dispatch_time)
ORDER BY (asset_id, dispatch_time, event_id)
-- @else
-- ENGINE = ReplacingMergeTree(checked_at_ms)
-- PARTITION BY toYYYYMM(toDateTime(substring(dispatch_time, 1, 19), 'UTC'))
-- ORDER BY (asset_id, dispatch_time, event_id)
-- @end
-- @if ttl
TTL toDateTime(dispatch_time) + INTERVAL {{retention_days}} DAY
-- @end
-- @if table_comment
COMMENT 'Each dispatch command checked against its DT''s operating envelope. Query with FINAL (or argMax by checked_at) for the newest check.';
-- @else
-- ;
-- @end
