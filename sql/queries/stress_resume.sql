-- The newest dt_stress row of each of some DTs: the thermal state (top oil, the two hot-spot rises, loss of
-- life) a stress processor resumes a DT from when its partition is assigned (pipelines/stress-restore.ts).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms is a column; see
-- @note io/warehouse/README.md.
SELECT
    dt_id,
-- @if datetime64
    toUnixTimestamp64Milli(slot_start) AS slot_start_ms,
-- @else
--  slot_start_ms,
-- @end
    version,
    rated_kva,
    net_kw,
    apparent_kva,
    load_factor,
    ambient_c,
    ambient_source,
    top_oil_c,
    hot_spot_c,
    hot_spot_rise1_k,
    hot_spot_rise2_k,
    peak_hot_spot_c,
    ageing_rate,
    loss_of_life_min,
    thermal_exceeded,
    v_min,
    v_max,
    voltage_exceeded,
    thermal_stress_prob,
    voltage_stress_prob,
    forecast_lead_slots,
    history_slots,
    state_initialised,
    ami_coverage_pct,
    data_quality
FROM dt_stress FINAL
WHERE dt_id IN {dts:Array(String)}
ORDER BY dt_id, slot_start_ms DESC
LIMIT 1 BY dt_id
