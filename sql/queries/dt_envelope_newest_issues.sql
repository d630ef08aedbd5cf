-- The newest operating-envelope issue of each of some DTs (the 96 slots after its last observed slot), by DT and
-- slot: what POST /v1/dt/hosting-capacity, /v1/rooftop/sanction-check and /v1/ev/site-screen judge additions
-- against (processors/stress/hosting.ts).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms and issued_at_ms are columns;
-- @note see io/warehouse/README.md.
SELECT
    dt_id,
-- @if datetime64
    toUnixTimestamp64Milli(slot_start) AS slot_start_ms,
    toUnixTimestamp64Milli(issued_at) AS issued_at_ms,
-- @else
--  slot_start_ms,
--  issued_at_ms,
-- @end
    confidence,
    base_kw,
    base_kw_low,
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
    v_min_mean,
    v_min_sd,
    v_max_mean,
    v_max_sd,
    voltage_sensitivity_v_per_kw,
    data_quality
FROM dt_operating_envelopes
WHERE dt_id IN {dts:Array(String)}
  AND (dt_id, version) IN
      (SELECT dt_id, max(version) FROM dt_operating_envelopes WHERE dt_id IN {dts:Array(String)} GROUP BY dt_id)
ORDER BY dt_id, slot_start_ms
LIMIT 1 BY dt_id, slot_start_ms
