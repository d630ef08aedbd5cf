import { decode } from '../core/codec.js';
import { DAY_MS } from '../core/time.js';
import type { Metrics } from '../core/metrics.js';
import type { Log } from '../io/log/log.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';
import { TABLES } from '../io/warehouse/tables.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import type { DtEnvelope } from '../schemas/types.gen.js';
import { LoadProfileDays } from '../serving/load-profile-days.js';
import { GROUPS, TOPICS } from './log-topics.js';
import { startSinkTask, type SinkTask } from './runtime/sink-task.js';

export type LoadProfileDaysTask = SinkTask;

/**
 * gridstream.envelopes → the warehouse's load-profile pieces (sql/029_load_profile_days.sql), which
 * GET /v1/dt/{id}/load-profile answers from (serving/load-profile-days.ts). Per batch: the stored pieces of the
 * batch's DT-days, read by the primary key, the batch's final envelopes applied (the highest version of each
 * slot wins; revisions of final slots are final too), and the changed pieces written back, before the offsets
 * are committed. Provisional envelopes (a DT's open slots, re-sent every second while readings come in) are
 * left out: rendering and compressing a DT-day for each would cost the processor more than the envelopes do;
 * the API reads the slots after a DT's newest final one from the envelope rows. The envelopes are keyed by
 * DT, so one instance of the shared group owns a DT's pieces and reads back its own writes; a batch replayed
 * after a crash changes nothing. Holds nothing between batches: its memory does not grow with the fleet.
 */
export function startLoadProfileDaysTask(options: {
  log: Log;
  warehouse: Warehouse;
  metrics: Metrics;
}): LoadProfileDaysTask {
  const { log, warehouse, metrics } = options;
  return startSinkTask({
    log,
    group: GROUPS.loadProfileDays,
    topics: [TOPICS.envelopes.name],
    maxBatch: 20_000,
    // A slot close brings a final envelope of every DT at once: one read and one insert for them all.
    lingerMs: 200,
    metrics,
    handle: async (records, context) => {
      const envelopes: DtEnvelope[] = [];
      for (const record of records) {
        try {
          const envelope = decode('DtEnvelope', record.value);
          if (envelope.is_final) envelopes.push(envelope);
        } catch {
          // The warehouse sink dead-letters an undecodable record of this topic; there is nothing to render.
        }
      }
      if (envelopes.length === 0) return;
      const dts = new Set<string>();
      const days = new Set<string>();
      for (const e of envelopes) {
        dts.add(e.dt_id);
        days.add(new Date(e.slot_start - (e.slot_start % DAY_MS)).toISOString().slice(0, 10));
      }
      const stored = await context.retry('reading the stored pieces', () =>
        runQuery(warehouse, queries.load_profile_days, { dt_ids: [...dts], days: [...days] }),
      );
      const pieces = new LoadProfileDays();
      for (const row of stored) pieces.load({ ...row, day: row.day_text });
      pieces.apply(envelopes);
      const rows = pieces.changed();
      if (rows.length === 0) return;
      // Written before the next batch reads them back, and before the commit.
      await context.retry('writing the pieces', () =>
        warehouse.insert(TABLES.loadProfileDays, rows as unknown as Array<Record<string, unknown>>),
      );
    },
  });
}
