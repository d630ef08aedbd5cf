-- Parked readings sent back into the pipeline (pipelines/parked-readings.ts): the unknown_meter dead letters
-- whose meter a later topology version placed, and which were re-ingested, one row each, so that each is
-- re-ingested once however often the topology changes or gridstream restarts.
CREATE TABLE IF NOT EXISTS released_dead_letters
(
    dead_letter_id String COMMENT 'dead_letters.dead_letter_id of the dead letter whose readings were re-ingested.',
    key String COMMENT 'The meter id.',
    released_at DateTime COMMENT 'When its readings went back onto the log, UTC (partitions and TTL).'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(released_at)
ORDER BY dead_letter_id
-- @if ttl
TTL released_at + INTERVAL {{retention_days}} DAY
-- @end
-- @if table_comment
COMMENT 'Parked readings re-ingested once their meter was placed, one row per dead letter (read with FINAL).';
-- @else
-- ;
-- @end
