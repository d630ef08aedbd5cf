import { decode, encode } from '../core/codec.js';
import { observeEventTimeLag, type Metrics } from '../core/metrics.js';
import { SLOT_MS } from '../core/time.js';
import type { Log, ProduceRecord } from '../io/log/log.js';
import { partitionFor } from '../io/log/partitioner.js';
import {
  initialStressState,
  stepStress,
  type DtOperatingEnvelope,
  type StressConfig,
  type StressInput,
  type StressOutput,
  type StressState,
} from '../processors/stress/stress.js';
import type { DtEnvelope, WeatherObservation } from '../schemas/types.gen.js';
import { startProcessorTask, type ProcessorTask } from './processor-task.js';
import type { StressHistory } from './stress-restore.js';
import type { TopologyTable } from './topology-table.js';
import { GROUPS, TOPICS } from './log-topics.js';
import type { WeatherTable } from './weather-table.js';

/**
 * How much history a restored partition learns again (the envelopes before each DT's resume point) and the
 * weather table keeps: the history's memory is 30 days (processors/stress/stress-history.ts), and 35 days give the
 * weekend classes their ten comparable days.
 */
export const STRESS_HISTORY_MS = 35 * 24 * 3_600_000;

/** A forecast probability at or above this makes a DT count in gridstream_stress_dts_at_risk. */
export const AT_RISK_PROBABILITY = 0.5;

/**
 * envelopes → stress processor (processors/stress/stress.ts) → dt_stress rows (topic gridstream.stress) and
 * operating envelopes (gridstream.operating-envelopes), one state per envelopes partition, with side inputs:
 * - the topology's nameplates (rating, cooling, thermal constants, weather station), injected into the
 *   partition of each DT at assignment and whenever the topology changes;
 * - the ambient of each DT's weather station, from the weather table (pipelines/weather-table.ts: the whole
 *   weather topic, so every instance has every station): each observation is injected into the partitions
 *   here that have a DT on its station. A slot waits until its station has reported past its end.
 *
 * Restore (a partition assigned after a restart or a rebalance): `history` gives each DT's newest dt_stress
 * row and the final envelopes of `historyMs` before it, from the warehouse. The processor takes the row as the
 * DT's resume point and learns the envelopes again without output (their rows are written), interleaved with
 * the weather table's observations by time as they came live; at the row's slot the thermal state becomes the
 * stored one (top oil, both hot-spot rises, loss of life), so later rows are those of an uninterrupted run
 * (with the same weather timing). Observations arriving while a partition restores are held back from it:
 * the restore inputs, taken at its end, include them.
 */
export function startStressStage(options: {
  log: Log;
  partitions: number;
  config: StressConfig;
  metrics: Metrics;
  topology: TopologyTable;
  weather: WeatherTable;
  history?: (dts: string[]) => Promise<StressHistory>;
  emitEveryMs?: number;
}): ProcessorTask<StressInput> {
  const { metrics, topology, weather, partitions } = options;
  const dtsOf = (partition: number) =>
    [...topology.index.transformers.keys()].filter((dt) => partitionFor(dt, partitions) === partition);
  const nameplates = (dts: Iterable<string>): Array<Extract<StressInput, { type: 'transformer' }>> =>
    [...dts].flatMap((dt) => {
      const t = topology.index.transformers.get(dt);
      return t
        ? [{ type: 'transformer' as const, transformer: { ...t, rated_kva: Number(t.rated_kva) } }]
        : [];
    });
  const restoring = new Set<number>();
  const risk = new AtRisk(metrics);

  const task = startProcessorTask<StressState, StressInput, StressOutput>({
    log: options.log,
    group: GROUPS.stress,
    inputTopic: TOPICS.envelopes.name,
    partitions,
    processor: {
      name: 'stress',
      init: initialStressState,
      step: (state, input) => stepStress(state, input, options.config),
    },
    toInput: (record) => ({ type: 'envelope', envelope: decode('DtEnvelope', record.value) }),
    // Releases slots held for weather once stream time is past the wait; cheap when nothing is held.
    punctuation: { input: { type: 'emit' }, everyMs: options.emitEveryMs ?? 1000 },
    // Envelopes processed whose rows may not be in the warehouse yet (the sink runs on its own): replayed,
    // they give the same rows again; older ones are reported skipped (the resume point is past them).
    replayLookbackMs: 2 * 3_600_000,
    route: (outputs) => {
      const stress: ProduceRecord[] = [];
      // One record per DT and issue, its 96 slots together (DtOperatingEnvelopes): an issue's slots come out
      // of the processor one after the other.
      const issues: DtOperatingEnvelope[][] = [];
      for (const output of outputs) {
        switch (output.type) {
          case 'stress': {
            const row = output.row;
            stress.push({ key: row.dt_id, value: encode('DtStress', row), timestamp: row.slot_start });
            metrics.stressSlots.inc({ outcome: 'processed' });
            if (row.thermal_exceeded) metrics.stressExceedances.inc({ kind: 'thermal' });
            if (row.voltage_exceeded) metrics.stressExceedances.inc({ kind: 'voltage' });
            break;
          }
          case 'operating-envelope': {
            const row = output.row;
            const last = issues.at(-1);
            if (last?.[0]!.dt_id === row.dt_id && last[0]!.issued_at === row.issued_at) last.push(row);
            else issues.push([row]);
            risk.observe(row);
            break;
          }
          case 'skipped':
            metrics.stressSlots.inc({ outcome: 'skipped' });
            break;
        }
      }
      risk.publish();
      const envelopes: ProduceRecord[] = [];
      for (const slots of issues)
        envelopes.push({
          key: slots[0]!.dt_id,
          value: encode('DtOperatingEnvelopes', { slots }),
          timestamp: slots[0]!.slot_start,
        });
      return new Map([
        [TOPICS.stress.name, stress],
        [TOPICS.operatingEnvelopes.name, envelopes],
      ]);
    },
    restore: async (partition) => {
      restoring.add(partition);
      try {
        const dts = dtsOf(partition);
        const history = (await options.history?.(dts)) ?? { resume: [], envelopes: [] };
        await weather.ready();
        const stations = new Set(dts.map((dt) => topology.index.transformers.get(dt)?.weather_station_id));
        stations.delete(null);
        stations.delete(undefined);
        return [
          ...nameplates(dts),
          ...history.resume.map((row) => ({ type: 'resume' as const, row })),
          ...interleave(history.envelopes, weather.observations(stations as Set<string>)),
        ];
      } finally {
        restoring.delete(partition);
      }
    },
    onAssignment: (owned) => metrics.assignedPartitions.set({ group: GROUPS.stress }, owned),
    metrics,
    // A DT's final envelope costs a 96-slot forecast (~1 ms): at a slot close every DT's arrives at once, and
    // in batches of a hundred the event loop stays free for the readings and the warehouse sink in between
    // (a batch of a thousand held it for over a second, delaying the very envelopes just closed).
    maxBatch: 100,
    observe: (states) => observeEventTimeLag(metrics, 'stress', states),
  });

  topology.onChange((dts) => {
    for (const input of nameplates(dts)) task.inject(input.transformer.dt_id, input);
  });
  weather.onObservations((fresh) => {
    // One DT key per partition with a DT on the station: inject() finds the partition by key.
    const byStation = new Map<string, Map<number, string>>();
    for (const [dt, t] of topology.index.transformers) {
      if (!t.weather_station_id) continue;
      let keys = byStation.get(t.weather_station_id);
      if (!keys) byStation.set(t.weather_station_id, (keys = new Map()));
      const partition = partitionFor(dt, partitions);
      if (!keys.has(partition)) keys.set(partition, dt);
    }
    for (const observation of fresh)
      for (const [partition, key] of byStation.get(observation.station_id) ?? [])
        if (!restoring.has(partition)) task.inject(key, { type: 'weather', observation });
  });
  return task;
}

/**
 * Envelopes and observations in the order the live stage sees them: an observation before the envelope of a
 * slot it falls in or ends (the weather topic runs ahead of the envelopes, which close after the lateness).
 */
export function interleave(envelopes: DtEnvelope[], observations: WeatherObservation[]): StressInput[] {
  const out: StressInput[] = [];
  const sorted = [...envelopes].sort((a, b) => a.slot_start - b.slot_start);
  let w = 0;
  for (const envelope of sorted) {
    const end = envelope.slot_start + SLOT_MS;
    while (w < observations.length && observations[w]!.ts <= end)
      out.push({ type: 'weather', observation: observations[w++]! });
    out.push({ type: 'envelope', envelope });
  }
  while (w < observations.length) out.push({ type: 'weather', observation: observations[w++]! });
  return out;
}

/**
 * The gauge gridstream_stress_dts_at_risk: per DT, the highest thermal and voltage stress probability of its
 * latest issue of the operating envelope (the next 24 hours); DTs at or above AT_RISK_PROBABILITY counted.
 */
class AtRisk {
  private readonly dts = new Map<string, { issuedAt: number; thermal: number; voltage: number }>();

  constructor(private readonly metrics: Metrics) {
    for (const kind of ['thermal', 'voltage']) metrics.stressDtsAtRisk.set({ kind }, 0);
  }

  observe(row: DtOperatingEnvelope): void {
    let entry = this.dts.get(row.dt_id);
    if (!entry || entry.issuedAt < row.issued_at)
      this.dts.set(row.dt_id, (entry = { issuedAt: row.issued_at, thermal: 0, voltage: 0 }));
    else if (entry.issuedAt > row.issued_at) return;
    entry.thermal = Math.max(entry.thermal, row.thermal_stress_prob);
    entry.voltage = Math.max(entry.voltage, row.voltage_stress_prob ?? 0);
  }

  publish(): void {
    let thermal = 0;
    let voltage = 0;
    for (const e of this.dts.values()) {
      if (e.thermal >= AT_RISK_PROBABILITY) thermal++;
      if (e.voltage >= AT_RISK_PROBABILITY) voltage++;
    }
    this.metrics.stressDtsAtRisk.set({ kind: 'thermal' }, thermal);
    this.metrics.stressDtsAtRisk.set({ kind: 'voltage' }, voltage);
  }
}
