import { decode, encode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import type { Log, LogRecord, ProduceRecord } from '../io/log/log.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import { checkDispatch, deliverySlot } from '../processors/flexibility/dispatch-check.js';
import type { DispatchCommand } from '../schemas/types.gen.js';
import { dispatchPeriodLimits } from '../serving/period-limits.js';
import { GROUPS, TOPICS } from './log-topics.js';
import { messageOf } from '../core/errors.js';
import { startSinkTask, type SinkTask } from './runtime/sink-task.js';

export type DispatchCheckTask = SinkTask;

/**
 * Checks each dispatch command (not a cancel) against its asset's computed period limits for the delivery period
 * (processors/flexibility/dispatch-check.ts): the stored sources and NETWORK, the asset's share of the
 * operating envelope of its DT in force at the dispatch time (serving/period-limits.ts, the same computation
 * GET /v1/assets/period-limits answers with). It puts the check on gridstream.dispatch-checks, keyed by asset
 * id, for the warehouse sink and webhooks.
 * An edge task, not a pure stage: the asset's placement, its stored limits and the envelope issue in force at
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

  /** Each decodable command with what the warehouse knows of it: placement, envelope in force and limits. */
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
    const limits = await dispatchPeriodLimits(
      warehouse,
      commands.map(({ command }) => ({
        assetId: command.asset_id,
        slotMs: deliverySlot(command),
        atMs: command.dispatch_time,
      })),
    );
    return commands.map((c, i) => ({ ...c, ...limits[i]! }));
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
      for (const { record, command, placement, envelope, period } of looked) {
        try {
          const check = checkDispatch(
            command,
            { dtId: placement?.dtId, share: placement?.share, envelope, period },
            checkedAt,
          );
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
