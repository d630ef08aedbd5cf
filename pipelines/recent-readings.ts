import { runQuery } from '../io/warehouse/query.js';
import { queries, type RecentReadingsRow } from '../io/warehouse/queries.gen.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { MeterReading } from '../schemas/types.gen.js';

/**
 * The most readings a piece of a restore holds (by the warehouse's count per received minute): ~400 bytes a
 * decoded reading, so a piece is tens of MB whatever the partition's size. A minute holding more is one piece.
 */
export const RESTORE_PIECE_READINGS = 100_000;

/**
 * The readings of `dts` within `horizonMs` of the newest among them, in the order of their received times
 * (recent_readings.sql's), in pieces of whole received minutes of at most `pieceReadings`: what rebuilds a
 * partition's state when a processor takes it over. The stages' state is per partition (its stream time
 * orders every DT's slots), so the pieces cut the one order by time rather than the DTs into groups.
 */
export async function* recentReadings(
  warehouse: Warehouse,
  dts: string[],
  horizonMs: number,
  pieceReadings = RESTORE_PIECE_READINGS,
): AsyncGenerator<Array<{ type: 'reading'; reading: MeterReading }>> {
  if (dts.length === 0) return;
  const minutes = await runQuery(warehouse, queries.recent_readings_minutes, {
    dts,
    horizon_s: Math.ceil(horizonMs / 1000),
  });
  const from = minutes[0]?.from_ms;
  if (from === undefined || from === null) return;
  for (let first = 0; first < minutes.length;) {
    let end = first + 1;
    let readings = minutes[first]!.readings;
    while (end < minutes.length && readings + minutes[end]!.readings <= pieceReadings)
      readings += minutes[end++]!.readings;
    const rows = await runQuery(warehouse, queries.recent_readings, {
      dts,
      from_ms: from,
      received_from_ms: minutes[first]!.minute_ms,
      received_to_ms: minutes[end - 1]!.minute_ms + 60_000,
    });
    first = end;
    yield rows.map((r) => ({ type: 'reading', reading: readingOfRow(r) }));
  }
}

/** The stored readings of `dts` with `ts` in [from, to) (slot_readings.sql): where a released slot is rebuilt from. */
export async function slotReadings(
  warehouse: Warehouse,
  dts: string[],
  from: number,
  to: number,
): Promise<MeterReading[]> {
  return (await runQuery(warehouse, queries.slot_readings, { dts, from_ms: from, to_ms: to })).map(
    readingOfRow,
  );
}

/** A reading as the warehouse stores it (recent_readings.sql, slot_readings.sql). */
export function readingOfRow(r: RecentReadingsRow): MeterReading {
  return {
    meter_id: r.meter_id,
    dt_id: r.dt_id,
    ts: r.ts_ms,
    p_kw: r.p_kw,
    q_kvar: r.q_kvar,
    legs: r.leg.map((leg, k) => ({ leg, v: r.v[k]!, i: r.i[k]! })),
    e_imp_kwh: r.e_imp_kwh,
    e_exp_kwh: r.e_exp_kwh,
    received_at: r.received_ms,
  };
}
