-- The stress-alert state of some DTs as of a slot each ({before}, in the order of {dts}), rebuilt from the
-- stress rows rather than kept per process: per DT and kind, the newest earlier slot whose probability reached
-- the alert bar and the newest that fell below the re-arm bar (0 when none). A kind is alerting when the first
-- is the newer: that is where processors/alerts.ts's hysteresis stands after those slots, in slot order
-- (pipelines/webhook-task.ts seeds it from here for each DT it has not seen since its partitions were
-- assigned). NULL probabilities (no forecast) count as neither.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms is a column.
SELECT
    dt_id,
    maxIf(slot_ms, ifNull(thermal_stress_prob, -1) >= {alert:Float64}) AS thermal_alert_ms,
    maxIf(slot_ms, ifNull(thermal_stress_prob, 2) < {rearm:Float64}) AS thermal_rearm_ms,
    maxIf(slot_ms, ifNull(voltage_stress_prob, -1) >= {alert:Float64}) AS voltage_alert_ms,
    maxIf(slot_ms, ifNull(voltage_stress_prob, 2) < {rearm:Float64}) AS voltage_rearm_ms
FROM
(
    SELECT
        dt_id,
-- @if datetime64
        toUnixTimestamp64Milli(slot_start) AS slot_ms,
-- @else
--      toInt64(slot_start_ms) AS slot_ms,
-- @end
        thermal_stress_prob,
        voltage_stress_prob
    FROM dt_stress FINAL
    WHERE dt_id IN {dts:Array(String)}
)
WHERE slot_ms < {before:Array(Int64)}[indexOf({dts:Array(String)}, dt_id)]
GROUP BY dt_id
