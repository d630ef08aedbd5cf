import { DAY_MS } from '../core/time.js';
import { ZoneOffsets } from '../core/zone-offsets.js';
import {
  buildLoadPatterns,
  PATTERN_WEEKS,
  type DtNameplate,
  type LoadPatterns,
} from '../processors/load-envelope/imputation.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries, type FeederLoadPatternsParams } from '../io/warehouse/queries.gen.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';

/** A DT's nameplate and the IANA zone its day types and local slots are read in (transformerTimeZone). */
export type ZonedNameplate = DtNameplate & { time_zone: string };

/**
 * The feeder load patterns from the warehouse's final envelopes (the queries' header comments say how), scaled
 * by the nameplates of `dts`: every DT of the topology for the envelope stage, the DTs of one feeder for an
 * API answer about a DT without AMI. Only the DTs of `dts` count, each in its own time zone: the queries get
 * each zone's offsets over their window as parameters (`zoneParams`).
 */
export async function loadPatternsOf(
  warehouse: Pick<Warehouse, 'query'>,
  dts: ReadonlyMap<string, ZonedNameplate>,
  withMeterShapes = true,
): Promise<LoadPatterns> {
  if (dts.size === 0) return buildLoadPatterns([], [], dts);
  const [window] = await runQuery(warehouse, queries.load_pattern_window, {});
  const feederRows = await runQuery(
    warehouse,
    queries.feeder_load_patterns,
    zoneParams(dts, window?.envelopes_until_ms ?? 0),
  );
  const dtRows = await runQuery(warehouse, queries.dt_load_levels, {});
  const meterRows = withMeterShapes
    ? await runQuery(warehouse, queries.meter_load_patterns, zoneParams(dts, window?.readings_until_ms ?? 0))
    : [];
  return buildLoadPatterns(feederRows, dtRows, dts, meterRows);
}

/**
 * The pattern queries' zone parameters for the window of PATTERN_WEEKS ending at `untilMs`: each DT's zone
 * (numbered from 1), each zone's offset at the window's start, and every change of it within the window as
 * (zone, instant, change of offset), from the same ZoneOffsets as the processors read. The change lists start
 * with an entry of zone 0 (no DT's), so that no array is empty.
 */
export function zoneParams(
  dts: ReadonlyMap<string, { time_zone: string }>,
  untilMs: number,
): FeederLoadPatternsParams {
  const fromMs = untilMs - PATTERN_WEEKS * 7 * DAY_MS;
  const zones = new Map<string, number>();
  const params: FeederLoadPatternsParams = {
    until_ms: untilMs,
    dt_ids: [],
    dt_zones: [],
    zone_base_ms: [],
    change_zones: [0],
    change_at_ms: [0],
    change_delta_ms: [0],
  };
  for (const [dt, { time_zone }] of dts) {
    let zone = zones.get(time_zone);
    if (zone === undefined) {
      zones.set(time_zone, (zone = zones.size + 1));
      const { offsetMs, changes } = ZoneOffsets.of(time_zone).changes(fromMs, untilMs);
      params.zone_base_ms.push(offsetMs);
      let previous = offsetMs;
      for (const change of changes) {
        params.change_zones.push(zone);
        params.change_at_ms.push(change.atMs);
        params.change_delta_ms.push(change.offsetMs - previous);
        previous = change.offsetMs;
      }
    }
    params.dt_ids.push(dt);
    params.dt_zones.push(zone);
  }
  return params;
}
