-- Current revision (highest version) of every leg-day from {start_event_date} to {end_event_date} of the meters
-- some row of which carried the requested identifiers (sql/011_impedance_identities.sql), read by the primary
-- keys (impedance_identities by service point first, impedance_daily by meter), at most {max_rows} rows: the
-- on-demand look-up of a few meters ("a customer on the phone"). The API filters, orders and pages them as
-- impedance_daily_rows.sql would (serving/impedance-store.ts), with the tenant and feeder from its topology
-- table, so ClickHouse does no scan of the topology per look-up. GET /v1/dt/{id}/meters reads its DT's meters'
-- trends with it too (stderr_mohm and is_final are for it).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, received_at is text 'YYYY-MM-DD hh:mm:ss.sss'.
-- The texts are named apart from their columns: an alias equal to a column's name would replace it in WHERE.
SELECT
    meter_id,
    leg,
    toString(day) AS day_text,
    toString(dt_id) AS dt_text,
    median_mohm,
    stderr_mohm,
    event_count,
    toString(received_at) AS received_text,
    version,
    is_final,
    service_point_id,
    meter_number,
    electronic_serial_number,
    premise_id
FROM impedance_daily
WHERE meter_id IN
    (
        SELECT meter_id FROM impedance_identities
        WHERE (length({service_points:Array(String)}) = 0 OR service_point_id IN {service_points:Array(String)})
          AND (length({meters:Array(String)}) = 0 OR meter_id IN {meters:Array(String)})
          AND (length({meter_numbers:Array(String)}) = 0 OR meter_number IN {meter_numbers:Array(String)})
          AND (length({serial_numbers:Array(String)}) = 0 OR electronic_serial_number IN {serial_numbers:Array(String)})
          AND (length({transformers:Array(String)}) = 0 OR dt_id IN {transformers:Array(String)})
          AND (length({premises:Array(String)}) = 0 OR premise_id IN {premises:Array(String)})
    )
  AND day >= toDate({start_event_date:String})
  AND day <= toDate({end_event_date:String})
ORDER BY meter_id, leg, day, version DESC
LIMIT 1 BY meter_id, leg, day
LIMIT {max_rows:UInt64}
