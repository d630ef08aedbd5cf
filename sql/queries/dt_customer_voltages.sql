-- The customers' voltage sensitivities of a DT as its newest stress row holds them (learnt by the stress
-- processor, processors/stress/customer-voltage.ts), with the DT's nominal voltage: what a meter-located
-- request of POST /v1/dt/hosting-capacity, /v1/rooftop/sanction-check and /v1/ev/site-screen is judged with.
SELECT
    customers.meter_id AS meter_id,
    customers.own_v_per_kw AS own_v_per_kw,
    customers.dt_v_per_kw AS dt_v_per_kw,
    customers.low_offset_v AS low_offset_v,
    customers.high_offset_v AS high_offset_v,
    (SELECT any(nominal_voltage_v) FROM topology_transformers FINAL WHERE dt_id = {dt_id:String}) AS nominal_voltage_v
FROM dt_stress FINAL
WHERE dt_id = {dt_id:String}
ORDER BY slot_start DESC
LIMIT 1
