-- The current row of every transformer of the topology.
SELECT dt_id, feeder_id, rated_kva, cooling_class, latitude, longitude, weather_station_id,
       nominal_voltage_v, top_oil_rise_k, hot_spot_gradient_k, loss_ratio, tau_oil_min, tau_winding_min, tenant, timezone, topology_version
FROM topology_transformers FINAL
ORDER BY dt_id
