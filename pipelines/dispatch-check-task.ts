import { decode, encode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import type { Log, LogRecord, ProduceRecord } from '../io/log/log.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import {
  checkDispatch,
  deliverySlot,
  type EnvelopeInForce,
} from '../processors/flexibility/dispatch-check.js';
import type { DispatchCommand } from '../schemas/types.gen.js';
import { GROUPS, TOPICS } from './log-topics.js';
import { messageOf } from '../core/errors.js';
import { startSinkTask, type SinkTask } from './runtime/sink-task.js';
import { runQuery } from '../io/warehouse/query.js';
import { queries } from '../io/warehouse/queries.gen.js';

export type DispatchCheckTask = SinkTask;

/**
 * Checks each dispatch command (not a cancel) against the operating envelope of its asset's DT
 * (processors/flexibility/dispatch-check.ts) and puts the check on gridstream.dispatch-checks, keyed by asset
 * id, for the warehouse sink and webhooks.
 * An edge task, not a pure stage: the asset's placement (topology_assets) and the envelope issue in force at
 * the dispatch time live in the warehouse, and are looked up per poll batch (dispatches are few). Offsets are
 * committed once the batch's checks are on the log (a sink task: pipelines/runtime/sink-task.ts); a replay
 * re-checks and the newest check is kept.
 */
export function startDispatchCheckTask(options: {
  log: Log;
  warehouse: Warehouse;
  metrics: Metrics;
}): DispatchCheckTask {
  const { log, warehouse, metrics } = options;
  const producer = log.producer();

  const envelopeInForce = async (
    dtId: string,
    command: DispatchCommand,
  ): Promise<EnvelopeInForce | undefined> => {
    const [row] = await runQuery(warehouse, queries.dispatch_envelope_in_force, {
      dt_id: dtId,
      slot_ms: deliverySlot(command),
      at_ms: command.dispatch_time,
    });
    if (!row) return undefined;
    return {
      issuedAt: row.issued_at_ms,
      importKw: row.import_kw,
      exportKw: row.export_kw,
      importLimitedBy: row.import_limited_by,
      exportLimitedBy: row.export_limited_by,
      dataQuality: row.data_quality,
    };
  };

  /** Each decodable command with what the warehouse knows of it: its asset's DT and the envelope in force. */
  const lookUp = async (records: LogRecord[]) => {
    const commands: Array<{ record: LogRecord; command: DispatchCommand }> = [];
    for (const record of records) {
      try {
        const command = decode('DispatchCommand', record.value);
        // A cancel asks for nothing to check: it has no DispatchCheck.
        if (command.action !== 'cancel') commands.push({ record, command });
      } catch {
        // The warehouse sink dead-letters an undecodable record of this topic; there is nothing to check.
      }
    }
    if (commands.length === 0) return [];
    const placed = await runQuery(warehouse, queries.asset_dts, {
      asset_ids: [...new Set(commands.map((c) => c.command.asset_id))],
    });
    const dtOf = new Map(placed.map((a) => [a.asset_id, a.dt_id]));
    const looked = [];
    for (const { record, command } of commands) {
      const dtId = dtOf.get(command.asset_id);
      const envelope = dtId === undefined ? undefined : await envelopeInForce(dtId, command);
      looked.push({ record, command, dtId, envelope });
    }
    return looked;
  };

  return startSinkTask({
    log,
    group: GROUPS.dispatchChecks,
    topics: [TOPICS.dispatches.name],
    maxBatch: 500,
    metrics,
    handle: async (records, context) => {
      // Only the look-ups are retried (a warehouse that is away): the checks, their metric and any dead
      // letter happen once a batch.
      const looked = await context.retry('looking up', () => lookUp(records));
      const checkedAt = Date.now();
      const checks: ProduceRecord[] = [];
      for (const { record, command, dtId, envelope } of looked) {
        try {
          const check = checkDispatch(command, dtId, envelope, checkedAt);
          metrics.dispatchChecks.inc({ verdict: check.verdict });
          checks.push({ key: check.asset_id, value: encode('DispatchCheck', check) });
        } catch (error) {
          // A command the check throws on would throw on every retry: dead-lettered, the batch goes on.
          context.deadLetter(record, messageOf(error));
        }
      }
      await context.retry('sending', () => producer.send(TOPICS.dispatchChecks.name, checks));
    },
    close: () => producer.close(),
  });
}
