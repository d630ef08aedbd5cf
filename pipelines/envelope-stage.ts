import { decode, encode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import type { Log, ProduceRecord } from '../io/log/log.js';
import { partitionFor } from '../io/log/partitioner.js';
import {
  initialEnvelopeState,
  stepEnvelope,
  type EnvelopeConfig,
  type EnvelopeInput,
  type EnvelopeOutput,
  type EnvelopeState,
} from '../processors/envelope.js';
import { startProcessorTask, type ProcessorTask } from './processor-task.js';
import type { TopologyTable } from './topology-table.js';
import { TOPICS } from './topics.js';

/** readings → envelope processor → envelopes, with the topology's meter counts as a side input. */
export function startEnvelopeStage(options: {
  log: Log;
  partitions: number;
  config: EnvelopeConfig;
  metrics: Metrics;
  topology: TopologyTable;
  restore?: (partition: number) => Promise<EnvelopeInput[]>;
  emitEveryMs?: number;
}): ProcessorTask<EnvelopeInput> {
  const { metrics, topology } = options;
  const meterCounts = (dts: Iterable<string>) => {
    const counts = topology.index.metersPerDt();
    return [...dts].map((dt) => ({
      type: 'meters-connected' as const,
      dt_id: dt,
      meters: counts.get(dt) ?? 0,
    }));
  };
  const task = startProcessorTask<EnvelopeState, EnvelopeInput, EnvelopeOutput>({
    log: options.log,
    group: 'gridstream-envelopes',
    inputTopic: TOPICS.readings.name,
    partitions: options.partitions,
    processor: {
      name: 'envelopes',
      init: initialEnvelopeState,
      step: (state, input) => stepEnvelope(state, input, options.config),
    },
    toInput: (record) => ({ type: 'reading', reading: decode('MeterReading', record.value) }),
    punctuation: { input: { type: 'emit' }, everyMs: options.emitEveryMs ?? 1000 },
    // A slot can be revised for the revision horizon after its end: that much input rebuilds its state.
    replayLookbackMs: options.config.revisionHorizonMs + options.config.allowedLatenessMs + 15 * 60_000,
    route: (outputs) => {
      const envelopes: ProduceRecord[] = [];
      for (const output of outputs) {
        if (output.type === 'envelope') {
          const e = output.envelope;
          envelopes.push({ key: e.dt_id, value: encode('DtEnvelope', e), timestamp: e.slot_start });
          metrics.slotsWritten.inc({ final: String(e.is_final) });
        } else metrics.tooLate.inc();
      }
      return new Map([[TOPICS.envelopes.name, envelopes]]);
    },
    // A partition arriving here starts from the topology's meter counts and, when given, recent history.
    restore: async (partition) => [
      ...meterCounts(
        [...topology.index.transformers.keys()].filter(
          (dt) => partitionFor(dt, options.partitions) === partition,
        ),
      ),
      ...((await options.restore?.(partition)) ?? []),
    ],
    onAssignment: (partitions) =>
      metrics.assignedPartitions.set({ group: 'gridstream-envelopes' }, partitions),
    observe: (states) => {
      let newest = Number.NEGATIVE_INFINITY;
      for (const state of states.values()) newest = Math.max(newest, state.streamTime);
      if (Number.isFinite(newest))
        metrics.eventTimeLag.set({ processor: 'envelopes' }, (Date.now() - newest) / 1000);
    },
  });

  topology.onChange((dts) => {
    for (const input of meterCounts(dts)) task.inject(input.dt_id, input);
  });
  return task;
}
