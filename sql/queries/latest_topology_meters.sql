-- The current row of every meter of the topology.
SELECT meter_id, meter_number, electronic_serial_number, service_point_id, premise_id, legs, dt_id, topology_version
FROM topology_meters FINAL
ORDER BY meter_id
