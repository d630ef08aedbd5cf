-- The newest dt_stress slot of each DT of one tenant (GET /v1/fleet): load factor, net power and the cumulative
-- loss of life there. One GROUP BY over the tenant's rows, argMax by slot (FINAL keeps the newest version); of
-- the slots from {from_ms} on (the primary key skips the older ones), and of the DTs {dts} only, unless empty.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms is a column; see
-- @note io/warehouse/README.md. There the text slot_start orders the slots.
SELECT
    dt_id,
-- @if datetime64
    toUnixTimestamp64Milli(max(slot_start)) AS last_slot_ms,
    argMax(load_factor, slot_start) AS load_factor,
    argMax(net_kw, slot_start) AS net_kw,
    argMax(loss_of_life_min, slot_start) AS loss_of_life_min
-- @else
--  max(slot_start_ms) AS last_slot_ms,
--  argMax(load_factor, slot_start) AS load_factor,
--  argMax(net_kw, slot_start) AS net_kw,
--  argMax(loss_of_life_min, slot_start) AS loss_of_life_min
-- @end
FROM dt_stress FINAL
WHERE dt_id IN (SELECT dt_id FROM topology_transformers FINAL WHERE tenant = {tenant:String})
  AND (empty({dts:Array(String)}) OR dt_id IN {dts:Array(String)})
-- @if datetime64
  AND slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
-- @else
--  AND slot_start_ms >= {from_ms:Int64}
-- @end
GROUP BY dt_id
ORDER BY dt_id
