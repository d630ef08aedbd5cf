-- Each 15-minute dt_stress row of one DT with from_ms <= slot_start < to_ms (epoch ms), in slot order: the
-- thermal state, exceedances and forecast stress probabilities of GET /v1/dt/{id}/stress.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms is a column; see
-- @note io/warehouse/README.md.
SELECT
-- @if datetime64
    toUnixTimestamp64Milli(slot_start) AS slot_start_ms,
-- @else
--  slot_start_ms,
-- @end
    rated_kva,
    net_kw,
    apparent_kva,
    load_factor,
    ambient_c,
    ambient_source,
    top_oil_c,
    hot_spot_c,
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
FROM dt_stress
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
