-- Per meter and 15-minute UTC period [period_ms, period_ms + 15 min): the mean p_kw of its readings and how
-- many there are, for the meters {meter_ids} and readings with from_ms <= ts < to_ms (epoch ms): the metered
-- side of a flexibility event's delivered flexibility (processors/flexibility/delivered.ts).
-- A reading's ts marks the start of its interval (the simulator stamps it so, and the load-envelope processor
-- puts a reading in the slot of slotStart(ts)), so a reading belongs to the period its ts falls in: a
-- 15-minute reading stamped 10:15 is the 10:15 period's, one-minute readings stamped 10:15 … 10:29 are
-- averaged into it. Copies of a reading (same meter and ts, re-sent or replayed, even under another DT)
-- count once, the latest received.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64 the epoch-millisecond columns ts_ms and
-- @note received_at_ms stand in for the conversions; see sql/001_readings.sql and io/warehouse/README.md.
SELECT
    meter_id,
    intDiv(reading_ms, 900000) * 900000 AS period_ms,
    avg(kw) AS p_kw,
    toUInt32(count()) AS readings
FROM
(
    SELECT
        meter_id,
        reading_ms,
        argMax(p_kw, received_ms) AS kw
    FROM
    (
        SELECT
            meter_id,
-- @if datetime64
            toInt64(toUnixTimestamp64Milli(ts)) AS reading_ms,
            toInt64(toUnixTimestamp64Milli(received_at)) AS received_ms,
-- @else
--          toInt64(ts_ms) AS reading_ms,
--          toInt64(received_at_ms) AS received_ms,
-- @end
            p_kw
        FROM readings
        WHERE meter_id IN {meter_ids:Array(String)}
-- @if datetime64
          AND ts >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
          AND ts < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')
-- @else
--        AND ts_ms >= {from_ms:Int64}
--        AND ts_ms < {to_ms:Int64}
-- @end
    )
    GROUP BY meter_id, reading_ms
)
GROUP BY meter_id, period_ms
ORDER BY meter_id, period_ms
