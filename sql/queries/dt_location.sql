-- Where one DT stands (its newest topology row): the sun's path over it shapes rooftop PV output, and its time
-- zone (NULL: none named) reads schedules; its nominal voltage sets its customer-voltage band.
SELECT latitude, longitude, timezone, nominal_voltage_v
FROM topology_transformers FINAL
WHERE dt_id = {dt_id:String}
