-- The meters the topology places behind one DT now: the newest version of each meter some version of which
-- was behind it (LIMIT 1 BY, as in dt_assets.sql), kept when that version is behind it still, for
-- GET /v1/dt/{id}/meters.
SELECT meter_id, service_point_id
FROM
(
    SELECT meter_id, dt_id, service_point_id
    FROM topology_meters
    WHERE meter_id IN (SELECT meter_id FROM topology_meters WHERE dt_id = {dt_id:String})
    ORDER BY meter_id, topology_version DESC
    LIMIT 1 BY meter_id
)
WHERE dt_id = {dt_id:String}
ORDER BY meter_id
