-- Current revision (highest version) of each 15-minute envelope of one DT with from_ms <= slot_start < to_ms (epoch ms).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms is a column (UInt64, the same
-- @note JSON as the Int64 below: a string of digits); see sql/001_readings.sql and io/warehouse/README.md.
SELECT
    dt_id,
-- @if datetime64
    toUnixTimestamp64Milli(slot_start) AS slot_start_ms,
-- @else
--  slot_start_ms,
-- @end
    version,
    is_final,
    net_mean_kw,
    min_kw,
    max_kw,
    p95_kw,
    import_kwh,
    export_kwh,
    q_mean_kvar,
    legs.leg AS leg,
    legs.v_min AS v_min,
    legs.v_mean AS v_mean,
    legs.v_max AS v_max,
    meters_reporting,
    meters_connected,
    readings,
    ami_coverage_pct,
    data_quality,
    imputed_kw,
    imputed_meters,
    profile_source
FROM envelopes
WHERE dt_id = {dt_id:String}
-- @if datetime64
  AND slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
  AND slot_start < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')
-- @else
--   AND slot_start_ms >= {from_ms:Int64}
--   AND slot_start_ms < {to_ms:Int64}
-- @end
-- The newest version of each slot, as FINAL would give it; FINAL costs 5x more on one DT's rows (63 ms against
-- 11 ms for 30 days on the 18.16 server): it merges whole granules, this sorts the DT's own rows.
ORDER BY slot_start_ms, version DESC
LIMIT 1 BY slot_start_ms;
