-- Where one DT stands (its newest topology row): the sun's path over it shapes rooftop PV output.
SELECT latitude, longitude
FROM topology_transformers FINAL
WHERE dt_id = {dt_id:String}
