-- The newest envelope slot of each DT of one tenant, with its AMI coverage and tier (GET /v1/fleet, as list_dts.sql
-- has them): of the slots from {from_ms} on (the primary key skips the older ones), and of the DTs {dts} only,
-- unless empty. The Enum is read as text (an argMax of an Enum fails on 18.16 when empty).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms is a column; see
-- @note io/warehouse/README.md.
SELECT
    dt_id,
-- @if datetime64
    toUnixTimestamp64Milli(max(slot_start)) AS last_slot_ms,
-- @else
--  max(slot_start_ms) AS last_slot_ms,
-- @end
    argMax(ami_coverage_pct, slot_start) AS ami_coverage_pct,
    argMax(toString(data_quality), slot_start) AS data_quality
FROM envelopes FINAL
WHERE dt_id IN (SELECT dt_id FROM topology_transformers FINAL WHERE tenant = {tenant:String})
  AND (empty({dts:Array(String)}) OR dt_id IN {dts:Array(String)})
-- @if datetime64
  AND slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
-- @else
--  AND slot_start_ms >= {from_ms:Int64}
-- @end
GROUP BY dt_id
ORDER BY dt_id
