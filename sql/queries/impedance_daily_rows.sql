-- Daily median service-drop impedance per meter leg (the impedance-statistics interface), in the interface's column names and order, for the
-- on-demand look-up and the batch export of the API (api/routes/impedance.ts). Current version of each
-- leg-day (the highest version), of one tenant's DTs only, filtered by lists (an empty list filters nothing) and by event
-- date and receive time ranges, ordered so that limit and offset page through a stable sequence.
-- A DT belongs to the tenant its newest topology row names; a DT no longer in the topology belongs to default.
-- Feeder is the DT's feeder in the current topology (impedance_daily does not keep one).
-- @note Gates ("-- @if <feature>" ... "-- @else" ... "-- @end") adapt this current-ClickHouse SQL to older
-- @note servers (io/warehouse/dialect.ts): without DateTime64, received_at is text 'YYYY-MM-DD hh:mm:ss.sss',
-- @note which orders like the time; see io/warehouse/README.md.
SELECT
    leg AS MeterLeg,
    median_mohm AS MedianImpedance,
    toString(day) AS EventDate,
-- @if datetime64
    concat(replaceOne(toString(received_at), ' ', 'T'), 'Z') AS ReceivedTime,
-- @else
--  concat(replaceOne(received_at, ' ', 'T'), 'Z') AS ReceivedTime,
-- @end
    event_count AS EventCount,
    service_point_id AS ServicePointId,
    meter_id AS MeterId,
    meter_number AS MeterNumber,
    electronic_serial_number AS ElectronicSerialNumber,
    dt_id AS TransformerId,
    premise_id AS PremiseId
-- The current version of each leg-day, as FINAL would give it, without FINAL's full merge (310 ms against
-- 15 ms for one service point in a month of 1,000 DTs on the 18.16 server): the meters some row of which
-- carried the requested identifiers (sql/011_impedance_identities.sql), read by the primary key (meter_id
-- first), the highest version of each of their leg-days, then every filter on that version, exactly as on
-- FINAL's rows.
FROM
(
    SELECT *
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
)
WHERE day >= toDate({start_event_date:String})
  AND day <= toDate({end_event_date:String})
-- @if datetime64
  AND received_at >= toDateTime64({start_received:String}, 3, 'UTC')
  AND received_at <= toDateTime64({end_received:String}, 3, 'UTC')
-- @else
--   AND received_at >= {start_received:String}
--   AND received_at <= {end_received:String}
-- @end
  AND (length({service_points:Array(String)}) = 0 OR service_point_id IN {service_points:Array(String)})
  AND (length({meters:Array(String)}) = 0 OR meter_id IN {meters:Array(String)})
  AND (length({meter_numbers:Array(String)}) = 0 OR meter_number IN {meter_numbers:Array(String)})
  AND (length({serial_numbers:Array(String)}) = 0 OR electronic_serial_number IN {serial_numbers:Array(String)})
  AND (length({transformers:Array(String)}) = 0 OR dt_id IN {transformers:Array(String)})
  AND (length({premises:Array(String)}) = 0 OR premise_id IN {premises:Array(String)})
  AND (length({feeders:Array(String)}) = 0
       OR dt_id IN (SELECT dt_id FROM topology_transformers FINAL WHERE feeder_id IN {feeders:Array(String)}))
  AND (dt_id IN
        (SELECT dt_id FROM (SELECT dt_id, argMax(tenant, topology_version) AS owner FROM topology_transformers GROUP BY dt_id)
         WHERE owner = {tenant:String})
       OR ({tenant:String} = 'default' AND dt_id NOT IN (SELECT dt_id FROM topology_transformers)))
ORDER BY day, meter_id, leg
LIMIT {limit:UInt64} OFFSET {offset:UInt64}
