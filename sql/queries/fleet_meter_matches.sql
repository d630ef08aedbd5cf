-- The meters whose id or service point is {q} exactly, with the DT the topology connects each to now (the
-- newest row of each meter, argMax as in meter_dts.sql): GET /v1/fleet's search by meter or service point.
SELECT
    meter_id,
    argMax(service_point_id, topology_version) AS service_point_id,
    argMax(dt_id, topology_version) AS dt_id
FROM topology_meters
WHERE meter_id IN (SELECT meter_id FROM topology_meters WHERE meter_id = {q:String} OR service_point_id = {q:String})
GROUP BY meter_id
HAVING meter_id = {q:String} OR service_point_id = {q:String}
ORDER BY meter_id
