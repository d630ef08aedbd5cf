-- AMI coverage and data-quality tier of the load-envelope slot each of some DTs' newest operating-envelope issue
-- was forecast from (the slot before its issued_at; the stress stage copies that slot's tier into the issue):
-- what a judgement against the issue declares, tier and coverage from the one slot.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms and issued_at_ms are columns;
-- @note see io/warehouse/README.md.
SELECT
    dt_id,
    argMax(ami_coverage_pct, version) AS ami_coverage_pct,
    argMax(toString(data_quality), version) AS data_quality
FROM envelopes
WHERE dt_id IN {dts:Array(String)}
-- @if datetime64
  AND (dt_id, toUnixTimestamp64Milli(slot_start)) IN
      (SELECT dt_id, toUnixTimestamp64Milli(max(issued_at)) - 900000
       FROM dt_operating_envelopes WHERE dt_id IN {dts:Array(String)} GROUP BY dt_id)
-- @else
--   AND (dt_id, toInt64(slot_start_ms)) IN
--       (SELECT dt_id, toInt64(max(issued_at_ms)) - 900000
--        FROM dt_operating_envelopes WHERE dt_id IN {dts:Array(String)} GROUP BY dt_id)
-- @end
GROUP BY dt_id
ORDER BY dt_id
