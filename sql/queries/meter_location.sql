-- A meter named by its id or by its service point, as the newest topology version places it: the meter a
-- meter-located request of POST /v1/dt/hosting-capacity, /v1/rooftop/sanction-check and /v1/ev/site-screen
-- is judged at. The empty string names nothing.
SELECT
    meter_id,
    argMax(service_point_id, topology_version) AS service_point,
    argMax(dt_id, topology_version) AS dt_id
FROM topology_meters
WHERE (meter_id = {meter_id:String} AND {meter_id:String} != '')
   OR (service_point_id = {service_point_id:String} AND {service_point_id:String} != '')
GROUP BY meter_id
ORDER BY max(topology_version) DESC, meter_id
LIMIT 1
