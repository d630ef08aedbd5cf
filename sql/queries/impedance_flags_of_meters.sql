-- The high-impedance flags of some meters' leg-days from {start_event_date} to {end_event_date} (inclusive),
-- read by the primary key (meter_id first), for GET /v1/dt/{id}/meters. FINAL: a flag raised again replaces
-- the earlier row of its key (the table has no version column).
SELECT
    meter_id,
    leg,
    toString(day) AS day_text,
    toString(kind) AS kind_text,
    median_mohm,
    reference_mohm
FROM impedance_flags FINAL
WHERE meter_id IN {meters:Array(String)}
  AND day >= toDate({start_event_date:String})
  AND day <= toDate({end_event_date:String})
ORDER BY meter_id, leg, day, kind
