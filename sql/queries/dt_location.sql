-- Where one DT stands (its newest topology row): the sun's path over it shapes rooftop PV output, and its time
-- zone (NULL: none named) reads schedules.
SELECT latitude, longitude, timezone
FROM topology_transformers FINAL
WHERE dt_id = {dt_id:String}
