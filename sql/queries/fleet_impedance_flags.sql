-- Per DT of one tenant, the meter legs flagged for high impedance on a day from {from_day} to {to_day} (GET
-- /v1/fleet: the last 7 UTC days): distinct (meter_id, leg), whatever the kind.
SELECT dt_id, uniqExact(meter_id, leg) AS flagged_legs
FROM
(
    SELECT toString(dt_id) AS dt_id, meter_id, leg
    FROM impedance_flags
    WHERE day >= toDate({from_day:String}) AND day <= toDate({to_day:String})
)
WHERE dt_id IN (SELECT dt_id FROM topology_transformers FINAL WHERE tenant = {tenant:String})
GROUP BY dt_id
ORDER BY dt_id
