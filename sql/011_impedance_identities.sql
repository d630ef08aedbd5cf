-- The identifier combinations each meter's impedance rows have carried (service point, meter number, serial
-- number, premise, DT), kept by a materialized view as impedance_daily rows are inserted. The impedance
-- look-up (sql/queries/impedance_daily_rows.sql) finds the meters a request's identifiers name here, in a few
-- thousand rows, and reads impedance_daily by its primary key (meter_id first) for just them, instead of
-- reading the identifier columns of every row. A superset is all it needs: the request's filters are applied
-- again to the rows themselves, so a stale or duplicated combination here costs nothing but a key look-up.
-- NULL identifiers are kept as '' (a sorting key cannot be Nullable on older servers).
CREATE TABLE IF NOT EXISTS impedance_identities
(
    service_point_id String COMMENT 'Seed 003: ServicePointId as an impedance row carried it; empty when NULL.',
    meter_number String COMMENT 'Seed 003: MeterNumber; empty when NULL.',
    electronic_serial_number String COMMENT 'Seed 003: ElectronicSerialNumber; empty when NULL.',
    premise_id String COMMENT 'Seed 003: PremiseId; empty when NULL.',
    dt_id String COMMENT 'Seed 003: TransformerId.',
    meter_id String COMMENT 'The meter whose impedance rows carried these identifiers.'
)
ENGINE = ReplacingMergeTree
ORDER BY (service_point_id, meter_number, electronic_serial_number, premise_id, dt_id, meter_id)
-- @if table_comment
COMMENT 'Identifier combinations of the impedance rows, one per meter and combination (materialized view impedance_identities_mv from impedance_daily); an index for the impedance look-up.';
-- @else
-- ;
-- @end

CREATE MATERIALIZED VIEW IF NOT EXISTS impedance_identities_mv TO impedance_identities AS
SELECT DISTINCT
    ifNull(service_point_id, '') AS service_point_id,
    ifNull(meter_number, '') AS meter_number,
    ifNull(electronic_serial_number, '') AS electronic_serial_number,
    ifNull(premise_id, '') AS premise_id,
    toString(dt_id) AS dt_id,
    meter_id
FROM impedance_daily
-- @if table_comment
COMMENT 'Keeps impedance_identities up to date with every insert into impedance_daily.';
-- @else
-- ;
-- @end

-- The rows stored before the view existed (a rerun only adds duplicates, which the engine merges away).
INSERT INTO impedance_identities
SELECT DISTINCT
    ifNull(service_point_id, '') AS service_point_id,
    ifNull(meter_number, '') AS meter_number,
    ifNull(electronic_serial_number, '') AS electronic_serial_number,
    ifNull(premise_id, '') AS premise_id,
    toString(dt_id) AS dt_id,
    meter_id
FROM impedance_daily;
