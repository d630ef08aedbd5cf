-- The final envelopes of some DTs from from_ms (epoch ms) on, in slot order: the history a stress processor
-- learns again, silently, when it resumes a partition (pipelines/stress-restore.ts).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms is a column; without Bool,
-- @note is_final is an Enum8; see io/warehouse/README.md.
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
    profile_source,
    meters.meter_id AS meter_id,
    meters.p_kw AS meter_p_kw,
    meters.v_low AS meter_v_low,
    meters.v_high AS meter_v_high
FROM envelopes FINAL
WHERE dt_id IN {dts:Array(String)}
-- @if bool
  AND is_final
  AND slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
-- @else
--   AND is_final = 'true'
--   AND slot_start_ms >= {from_ms:Int64}
-- @end
ORDER BY slot_start_ms, dt_id
