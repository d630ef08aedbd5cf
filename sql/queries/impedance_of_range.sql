-- Current revision (highest version) of every meter leg's day with from_ms <= day < to_ms (epoch ms), for the
-- API's in-memory impedance look-up (serving/impedance-store.ts), which reads its window a UTC day at a time.
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, received_at is text 'YYYY-MM-DD hh:mm:ss.sss'.
-- The texts are named apart from their columns: an alias equal to a column's name would replace it in WHERE.
SELECT
    meter_id,
    leg,
    toString(day) AS day_text,
    toString(dt_id) AS dt_text,
    median_mohm,
    event_count,
    toString(received_at) AS received_text,
    version,
    service_point_id,
    meter_number,
    electronic_serial_number,
    premise_id
FROM impedance_daily
-- Days since the epoch, not toDate(seconds): that one reads the seconds in the server's time zone.
WHERE day >= toDate('1970-01-01') + intDiv({from_ms:Int64}, 86400000)
  AND day < toDate('1970-01-01') + intDiv({to_ms:Int64}, 86400000)
-- One of `buckets` parts of the meters, so that a large fleet's day is read in pieces (every row of a meter in one).
  AND cityHash64(meter_id) % {buckets:UInt64} = {bucket:UInt64}
ORDER BY meter_id, leg, day, version DESC
LIMIT 1 BY meter_id, leg, day;
