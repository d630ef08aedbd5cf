-- The operating envelope of one DT for each 15-minute slot with from_ms <= slot_start < to_ms (epoch ms), in
-- slot order, as GET /v1/dt/{id}/envelopes serves it: each slot's newest issue (highest version): for a slot still
-- ahead that is the latest forecast; for a past slot, the issue made just before it, i.e. the envelope that
-- was in force during it (an issue covers only the slots after the one just observed).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms and issued_at_ms are columns;
-- @note see io/warehouse/README.md.
SELECT
-- @if datetime64
    toUnixTimestamp64Milli(slot_start) AS slot_start_ms,
    toUnixTimestamp64Milli(issued_at) AS issued_at_ms,
-- @else
--  slot_start_ms,
--  issued_at_ms,
-- @end
    lead_slots,
    confidence,
    rated_kva,
    base_kw,
    base_kw_high,
    base_kw_low,
    ambient_c,
    hot_spot_c,
    top_oil_c,
    thermal_stress_prob,
    voltage_stress_prob,
    import_kw,
    export_kw,
    import_slot_kw,
    export_slot_kw,
    import_limited_by,
    export_limited_by,
    v_min_low,
    v_max_high,
    voltage_sensitivity_v_per_kw,
    history_slots,
    data_quality
FROM dt_operating_envelopes
WHERE dt_id = {dt_id:String}
-- @if datetime64
  AND slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
  AND slot_start < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')
-- @else
--   AND slot_start_ms >= {from_ms:Int64}
--   AND slot_start_ms < {to_ms:Int64}
-- @end
-- The highest version of each slot, as FINAL would give it, at a fifth of FINAL's cost on one DT's rows
-- (sql/queries/envelopes_for_dt.sql).
ORDER BY slot_start_ms, version DESC
LIMIT 1 BY slot_start_ms
