-- Current revision (highest version) of each 15-minute envelope of every DT with from_ms <= slot_start < to_ms
-- (epoch ms), for the API's in-memory load profiles (pipelines/serving-view.ts), which read their window a day
-- at a time.
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
-- @if datetime64
WHERE slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
  AND slot_start < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')
-- @else
-- WHERE slot_start_ms >= {from_ms:Int64}
--   AND slot_start_ms < {to_ms:Int64}
-- @end
-- One of `buckets` parts of the DTs, so that a large fleet's day is read in pieces (every slot of a DT in one).
  AND cityHash64(dt_id) % {buckets:UInt64} = {bucket:UInt64}
ORDER BY dt_id, slot_start_ms, version DESC
LIMIT 1 BY dt_id, slot_start_ms;
