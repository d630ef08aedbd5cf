-- Per UTC day (day_index: days since 1970-01-01) of one DT's envelopes with from_ms <= slot_start < to_ms (epoch
-- ms): final_sum, the sum of the newest versions of the slots whose newest row is final, which is the version a
-- load-profile piece of that day holds when it is current (sql/029_load_profile_days.sql: pieces hold final
-- slots only), and open_slots, the slots whose newest row is provisional. api/routes/dt.ts answers a day whose
-- piece has another version (none yet, stale) from the envelope rows, and adds a current piece's open slots
-- from them. Reads three columns of the DT's rows by the primary key.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, slot_start_ms is a column (UInt64); without
-- @note Bool, is_final is Enum8('false', 'true').
SELECT
    intDiv(slot_ms, 86400000) AS day_index,
-- @if bool
    sum(if(newest_final, slot_version, 0)) AS final_sum,
    countIf(NOT newest_final) AS open_slots
-- @else
--  sum(if(newest_final = 'true', slot_version, 0)) AS final_sum,
--  countIf(newest_final = 'false') AS open_slots
-- @end
FROM
    (
        SELECT
-- @if datetime64
            toUnixTimestamp64Milli(slot_start) AS slot_ms,
-- @else
--          slot_start_ms AS slot_ms,
-- @end
            max(version) AS slot_version,
            argMax(is_final, version) AS newest_final
        FROM envelopes
        WHERE dt_id = {dt_id:String}
-- @if datetime64
          AND slot_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
          AND slot_start < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')
-- @else
--           AND slot_start_ms >= {from_ms:Int64}
--           AND slot_start_ms < {to_ms:Int64}
-- @end
        GROUP BY slot_ms
    )
GROUP BY day_index
ORDER BY day_index
