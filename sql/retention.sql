-- Not a migration: re-applied by io/warehouse/migrate.ts when the configured retention (days) differs from
-- the one recorded in gridstream_retention. Lists the TTL of every time-series table; a migration that adds
-- a table with a TTL must add its line here too (test/integration/warehouse-migrate.test.ts checks this).
-- @note A server without TTL (Debian's 18.16) runs none of these: it keeps rows until their monthly
-- @note partitions are dropped (ALTER TABLE readings DROP PARTITION 202501); see io/warehouse/README.md.
-- @if ttl
ALTER TABLE readings MODIFY TTL toDateTime(ts) + INTERVAL {{retention_days}} DAY;
ALTER TABLE envelopes MODIFY TTL toDateTime(slot_start) + INTERVAL {{retention_days}} DAY;
ALTER TABLE dead_letters MODIFY TTL toDateTime(received_at) + INTERVAL {{retention_days}} DAY;
ALTER TABLE weather MODIFY TTL toDateTime(ts) + INTERVAL {{retention_days}} DAY;
ALTER TABLE dispatches MODIFY TTL toDateTime(dispatch_time) + INTERVAL {{retention_days}} DAY;
ALTER TABLE dispatch_checks MODIFY TTL toDateTime(dispatch_time) + INTERVAL {{retention_days}} DAY;
ALTER TABLE impedance_daily MODIFY TTL day + INTERVAL {{retention_days}} DAY;
ALTER TABLE impedance_flags MODIFY TTL day + INTERVAL {{retention_days}} DAY;
ALTER TABLE dt_stress MODIFY TTL toDateTime(slot_start) + INTERVAL {{retention_days}} DAY;
ALTER TABLE dt_operating_envelopes MODIFY TTL toDateTime(slot_start) + INTERVAL {{retention_days}} DAY;
ALTER TABLE webhook_deliveries MODIFY TTL attempted_at + INTERVAL {{retention_days}} DAY;
ALTER TABLE released_dead_letters MODIFY TTL released_at + INTERVAL {{retention_days}} DAY;
ALTER TABLE load_profile_days MODIFY TTL day + INTERVAL {{retention_days}} DAY;
-- @end
