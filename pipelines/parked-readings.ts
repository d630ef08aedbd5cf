import type { Metrics } from '../core/metrics.js';
import { decodeMessage } from '../ingest/decode.js';
import type { LogProducer } from '../io/log/log.js';
import { dateTime } from '../io/warehouse/rows.js';
import { TABLES } from '../io/warehouse/tables.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { ParkedReadingsRow } from '../io/warehouse/queries.gen.js';
import { sendDecoded } from './ingest-task.js';
import type { TopologyTable } from './topology-table.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';

/**
 * Readings of meters not in the topology are dead-lettered `unknown_meter` (parked): meters are installed
 * days before the CIS/GIS export names them. Once a topology version places such a meter, its parked readings
 * are decoded again from their raw bytes (with their original receive time) and put on the log as ingest
 * would have, then recorded in `released_dead_letters`, so each goes back once. The parked readings are read
 * from the warehouse, which keeps dead letters for the retention period whichever log runs: at start (a
 * topology loaded while nothing ran), after each topology change, and once more `followUpMs` after it (dead
 * letters the warehouse sink had not yet written when the meter was placed) or after a sweep that failed. Not
 * on a timer: a sweep scans the dead letters, which a large fleet keeps many of. Downstream is idempotent for a reading sent
 * twice (a crash between the send and the record, or two bridges), so the record needs no transaction.
 */
export interface ParkedReadings {
  /** Sends back the parked readings of every meter now placed; resolves with how many readings went back. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

const METERS_PER_QUERY = 1_000;

export function startParkedReadings(options: {
  warehouse: Warehouse;
  producer: LogProducer;
  topology: TopologyTable;
  metrics: Metrics;
  /** How long after a topology change (or a failed sweep) to sweep once more (default 60 s). */
  followUpMs?: number;
}): ParkedReadings {
  const { warehouse, producer, topology, metrics } = options;
  let running: Promise<number> | null = null;
  let again = false;
  let stopped = false;

  const releaseOnce = async (): Promise<number> => {
    const parked = await runQuery(warehouse, queries.parked_meters, {});
    const placed = parked
      .map((r) => r.key)
      .filter((meter): meter is string => meter !== null && topology.index.dtOf(meter) !== undefined);
    let released = 0;
    for (let k = 0; k < placed.length; k += METERS_PER_QUERY) {
      const rows = await runQuery(warehouse, queries.parked_readings, {
        meters: placed.slice(k, k + METERS_PER_QUERY),
      });
      const sent: ParkedReadingsRow[] = [];
      for (const row of rows) {
        const decoded = decodeMessage(
          row.source_topic,
          Buffer.from(row.raw_hex, 'hex'),
          row.received_ms,
          topology.index,
        );
        // Placed when listed, but a newer version may have taken the meter out again: it stays parked.
        if (decoded.deadLetters.some((d) => d.reason_code === 'unknown_meter')) continue;
        await sendDecoded(producer, decoded);
        for (const d of decoded.deadLetters) metrics.deadLetters.inc({ reason: d.reason_code });
        released += decoded.readings.length;
        sent.push(row);
      }
      if (sent.length === 0) continue;
      const now = Date.now();
      await warehouse.insert(
        TABLES.releasedDeadLetters,
        sent.map((r) => ({
          dead_letter_id: r.dead_letter_id,
          key: r.key,
          released_at: dateTime(now),
        })),
      );
    }
    if (released) metrics.parkedReleased.inc(released);
    return released;
  };

  /** One sweep at a time; a request during one runs another after it (it may have missed the change). */
  const sweep = async (): Promise<number> => {
    if (running) {
      again = true;
      return running;
    }
    let total = 0;
    running = (async () => {
      do {
        again = false;
        total += await releaseOnce();
      } while (again && !stopped);
      return total;
    })().finally(() => (running = null));
    return running;
  };

  const followUpMs = options.followUpMs ?? 60_000;
  let followUp: NodeJS.Timeout | null = null;
  const later = () => {
    if (followUp || stopped) return;
    followUp = setTimeout(() => {
      followUp = null;
      void now(false);
    }, followUpMs);
    followUp.unref();
  };
  const now = (thenAgain: boolean) =>
    sweep().then(
      () => {
        if (thenAgain) later();
      },
      (error: Error) => {
        // Nothing is marked released unless it went back on the log: the next sweep tries again.
        console.error(`parked readings: ${error.message} (tried again in ${followUpMs / 1000} s)`);
        later();
      },
    );
  topology.onChange(() => void now(true));
  void now(false);

  return {
    sweep,
    async stop() {
      stopped = true;
      if (followUp) clearTimeout(followUp);
      await running?.catch(() => 0);
    },
  };
}
