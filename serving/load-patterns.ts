import {
  buildLoadPatterns,
  type DtNameplate,
  type LoadPatterns,
} from '../processors/load-envelope/imputation.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';

/**
 * The feeder load patterns from the warehouse's final envelopes (the queries' header comments say how), scaled
 * by the nameplates of `dts`: every DT of the topology for the envelope stage, the DTs of one feeder for an
 * API answer about a DT without AMI.
 */
export async function loadPatternsOf(
  warehouse: Pick<Warehouse, 'query'>,
  dts: ReadonlyMap<string, DtNameplate>,
  withMeterShapes = true,
): Promise<LoadPatterns> {
  const feederRows = await runQuery(warehouse, queries.feeder_load_patterns, {});
  const dtRows = await runQuery(warehouse, queries.dt_load_levels, {});
  const meterRows = withMeterShapes ? await runQuery(warehouse, queries.meter_load_patterns, {}) : [];
  return buildLoadPatterns(feederRows, dtRows, dts, meterRows);
}
