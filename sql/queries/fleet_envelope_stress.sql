-- Per DT of one tenant, over the slots of its newest operating-envelope issue (GET /v1/fleet): the highest
-- thermal and voltage stress probabilities, and the slot where the higher of the two peaks (the earliest on a
-- tie). The newest issue is the DT's highest version (= issued_at in ms), as in dt_envelope_newest_issues.sql;
-- joined on dt_id and compared, which reads the rows at half the cost of IN on (dt_id, version) pairs. Only
-- issues made from {from_ms} on count (their slots start then or later, so the primary key skips older slots),
-- and only the DTs {dts}, unless empty.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms is a column; see
-- @note io/warehouse/README.md. One JOIN, of two subqueries with aliases, works on 18.16 as it is.
SELECT
    dt_id,
    max(newest) AS issued_at_ms,
    max(thermal) AS thermal_stress_prob,
    max(voltage) AS voltage_stress_prob,
    argMax(slot_ms, (greatest(thermal, ifNull(voltage, thermal)), -slot_ms)) AS peak_slot_ms
FROM
(
    SELECT
        dt_id,
        version,
-- @if datetime64
        toInt64(toUnixTimestamp64Milli(slot_start)) AS slot_ms,
-- @else
--      toInt64(slot_start_ms) AS slot_ms,
-- @end
        thermal_stress_prob AS thermal,
        voltage_stress_prob AS voltage
    FROM dt_operating_envelopes
    WHERE dt_id IN (SELECT dt_id FROM topology_transformers FINAL WHERE tenant = {tenant:String})
      AND (empty({dts:Array(String)}) OR dt_id IN {dts:Array(String)})
      AND version >= {from_ms:Int64}
-- @if datetime64
      AND slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
-- @else
--    AND slot_start_ms >= {from_ms:Int64}
-- @end
) AS issues
ALL INNER JOIN
(
    SELECT dt_id, max(version) AS newest
    FROM dt_operating_envelopes
    WHERE dt_id IN (SELECT dt_id FROM topology_transformers FINAL WHERE tenant = {tenant:String})
      AND (empty({dts:Array(String)}) OR dt_id IN {dts:Array(String)})
      AND version >= {from_ms:Int64}
-- @if datetime64
      AND slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
-- @else
--    AND slot_start_ms >= {from_ms:Int64}
-- @end
    GROUP BY dt_id
) AS newest_issues USING dt_id
WHERE version = newest
GROUP BY dt_id
ORDER BY dt_id
