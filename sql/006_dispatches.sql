-- Dispatch commands from flexibility and battery platforms (topic gridstream.dispatches).
CREATE TABLE IF NOT EXISTS dispatches
(
    event_id String COMMENT 'Id of the dispatch event (a UUID as the platforms send it).',
    source Nullable(String) COMMENT 'Platform that issued the command; NULL when not given.',
    published_at Nullable(DateTime64(3, 'UTC')) COMMENT 'When the platform published the command, UTC; NULL when not given.',
    asset_id String COMMENT 'Asset (battery, EV charger, ...) the command is for.',
    dispatch_time DateTime64(3, 'UTC') COMMENT 'When the command was issued, UTC.',
    delivery_period_start DateTime64(3, 'UTC') COMMENT 'Start of the 15-minute delivery period, UTC.',
    target_power_amount String COMMENT 'Target power as the platform sent it, an exact decimal string, in target_power_unit.',
    target_power_unit Enum8('W' = 1, 'kW' = 2, 'MW' = 3) COMMENT 'Unit of target_power_amount.',
    target_power_kw Nullable(Float64) ALIAS toFloat64OrNull(target_power_amount) * multiIf(target_power_unit = 'W', 0.001, target_power_unit = 'MW', 1000., 1.) COMMENT 'Target power converted to kW (computed, not stored; a float, so not exact).',
    nominal_power_amount Nullable(String) COMMENT 'Nominal power of the asset, decimal string in nominal_power_unit; NULL when not given.',
    nominal_power_unit Nullable(Enum8('W' = 1, 'kW' = 2, 'MW' = 3)) COMMENT 'Unit of nominal_power_amount.',
    power_imbalance_amount Nullable(String) COMMENT 'Power imbalance, decimal string in power_imbalance_unit; NULL when not given.',
    power_imbalance_unit Nullable(Enum8('W' = 1, 'kW' = 2, 'MW' = 3)) COMMENT 'Unit of power_imbalance_amount.',
    soc_imbalance_amount Nullable(String) COMMENT 'State-of-charge imbalance, decimal string in soc_imbalance_unit; NULL when not given.',
    soc_imbalance_unit Nullable(Enum8('W' = 1, 'kW' = 2, 'MW' = 3)) COMMENT 'Unit of soc_imbalance_amount.',
    received_at DateTime64(3, 'UTC') COMMENT 'When gridstream received the command, UTC; among copies of the same command the latest received is kept.'
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(dispatch_time)
ORDER BY (asset_id, dispatch_time, event_id)
TTL toDateTime(dispatch_time) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Dispatch commands per asset and time, amounts kept as the exact decimal strings sent. Query with FINAL to count each command once.';
