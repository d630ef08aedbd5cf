import { encode } from '../core/codec.js';
import { SLOT_MS, slotStart } from '../core/time.js';
import { observeEventTimeLag, type Metrics } from '../core/metrics.js';
import type { ProduceRecord } from '../io/log/log.js';
import { partitionFor } from '../io/log/partitioner.js';
import {
  initialEnvelopeState,
  applyEnvelopeReading,
  stepEnvelope,
  type EnvelopeConfig,
  type EnvelopeInput,
  type EnvelopeOutput,
  type EnvelopeState,
} from '../processors/load-envelope/load-envelope.js';
import { emptyLoadPatterns, type LoadPatterns } from '../processors/load-envelope/imputation.js';
import { transformerTimeZone } from '../core/schedule.js';
import type { Warehouse } from '../io/warehouse/warehouse.js';
import { KeyedStage } from './keyed-stage.js';
import type { MeterReading } from '../schemas/types.gen.js';
import type { TopologyTable } from './topology-table.js';
import { TOPICS } from './log-topics.js';
import { loadPatternsOf, type ZonedNameplate } from '../serving/load-patterns.js';

/**
 * readings → envelope processor → envelopes, with side inputs: the topology's meter counts and nameplates
 * (feeder, rated kVA, the IANA zone its day types and local slots are read in: core/schedule.ts
 * transformerTimeZone), and the feeder load patterns for imputation and
 * modelled-only DTs (processors/load-envelope/imputation.ts). The patterns cross partitions (a feeder's DTs live in several),
 * so they come from the warehouse: loaded at start and every `patternsEveryMs` (default hourly) with
 * sql/queries/feeder_load_patterns.sql and dt_load_levels.sql (small: envelope slots), the meter shapes of
 * meter_load_patterns.sql (a scan of four weeks of readings) at start and every `meterShapesEveryMs` (default
 * daily; the hourly rounds in between keep the shapes loaded last), and injected into every
 * partition that has DTs (through one of its DTs' keys), each with only its own DTs' meter shapes; a partition
 * assigned later gets the latest patterns in its restore inputs.
 *
 * Closed slots are held for `config.residentMs` after their end; a late reading for one released before its
 * revision horizon makes the processor ask for the slot's stored readings, which `slotReadings` loads from the
 * warehouse (the task has written every reading applied before the ask) and feeds back to the partition.
 *
 * The stage runs on the readings task (pipelines/readings-task.ts), which reads and decodes each reading once
 * for every stage; `close` stops the pattern reloads.
 */
export interface EnvelopeStage {
  readonly stage: KeyedStage<EnvelopeState, EnvelopeInput, EnvelopeOutput, MeterReading>;
  close(): void;
}

export function envelopeStage(options: {
  partitions: number;
  config: EnvelopeConfig;
  metrics: Metrics;
  topology: TopologyTable;
  restore?: (partition: number) => AsyncIterable<EnvelopeInput[]>;
  /** The stored readings of some DTs with `ts` in [from, to): where a released slot is rebuilt from. */
  slotReadings?: (dts: string[], from: number, to: number) => Promise<MeterReading[]>;
  emitEveryMs?: number;
  /** GRIDSTREAM_TIMEZONE: the zone of a DT whose topology names none (undefined: the zone at its coordinates). */
  timeZone?: string | undefined;
  /** Where the feeder load patterns come from; without it there is no imputation and the standard shape. */
  loadPatterns?: (withMeterShapes: boolean) => Promise<LoadPatterns>;
  patternsEveryMs?: number;
  meterShapesEveryMs?: number;
}): EnvelopeStage {
  const { metrics, topology } = options;
  // Without a place to load released slots from, every slot is held for the whole revision horizon.
  const config: EnvelopeConfig = options.slotReadings
    ? options.config
    : { ...options.config, residentMs: undefined };
  const meterCounts = (dts: Iterable<string>): EnvelopeInput[] => {
    const counts = topology.index.metersPerDt();
    return [...dts].flatMap((dt): EnvelopeInput[] => {
      const t = topology.index.transformers.get(dt);
      return [
        { type: 'meters-connected', dt_id: dt, meters: counts.get(dt) ?? 0 },
        ...(t
          ? [
              {
                type: 'dt-nameplate' as const,
                dt_id: dt,
                feeder_id: t.feeder_id,
                rated_kva: Number(t.rated_kva),
                time_zone: transformerTimeZone(t, options.timeZone),
              },
            ]
          : []),
      ];
    });
  };
  let patterns: LoadPatterns = emptyLoadPatterns();
  let shapesLoadedAt = Number.NEGATIVE_INFINITY;
  const loadPatterns = async () => {
    if (!options.loadPatterns) return;
    try {
      const now = Date.now();
      const withShapes = now - shapesLoadedAt >= (options.meterShapesEveryMs ?? 24 * 3_600_000);
      const loaded = await options.loadPatterns(withShapes);
      if (withShapes) shapesLoadedAt = now;
      else loaded.meterShapes = patterns.meterShapes;
      patterns = loaded;
    } catch (error) {
      // The previous patterns stay in force; the next round tries again.
      console.error(`envelopes: loading the feeder load patterns failed: ${(error as Error).message}`);
    }
  };
  const firstPatterns = loadPatterns();
  /** The patterns with only the meter shapes of the partition's DTs (the feeder-level parts are small). */
  const forPartition = (all: LoadPatterns, partition: number): LoadPatterns => ({
    ...all,
    meterShapes: new Map(
      [...all.meterShapes].filter(([dt]) => partitionFor(dt, options.partitions) === partition),
    ),
  });
  const task = new KeyedStage<EnvelopeState, EnvelopeInput, EnvelopeOutput, MeterReading>({
    partitions: options.partitions,
    processor: {
      name: 'envelopes',
      init: initialEnvelopeState,
      step: (state, input) => stepEnvelope(state, input, config),
    },
    toInput: (reading) => ({ type: 'reading', reading }),
    applyValue: (state, reading, outputs) => applyEnvelopeReading(state, reading, config, outputs),
    punctuation: { input: { type: 'emit' }, everyMs: options.emitEveryMs ?? 1000 },
    // As the restore: the revision horizon, so a restarted partition's state is an uninterrupted run's.
    replayLookbackMs: config.revisionHorizonMs + config.allowedLatenessMs + SLOT_MS,
    route: (outputs) => {
      const envelopes: ProduceRecord[] = [];
      for (const output of outputs) {
        if (output.type === 'envelope') {
          const e = output.envelope;
          envelopes.push({ key: e.dt_id, value: encode('DtEnvelope', e), timestamp: e.slot_start });
          metrics.slotsWritten.inc({ final: String(e.is_final) });
        } else if (output.type === 'too-late') metrics.tooLate.inc();
      }
      return new Map([[TOPICS.envelopes.name, envelopes]]);
    },
    // A partition arriving here starts from the topology's meter counts and, when given, recent history.
    restore: async function* (partition) {
      await firstPatterns;
      yield [
        { type: 'load-patterns' as const, patterns: forPartition(patterns, partition) },
        ...meterCounts(
          [...topology.index.transformers.keys()].filter(
            (dt) => partitionFor(dt, options.partitions) === partition,
          ),
        ),
      ];
      if (options.restore) yield* options.restore(partition);
    },
    observe: (states) => observeEventTimeLag(metrics, 'envelopes', states),
    load: options.slotReadings && {
      asks: (output) => output.type === 'load-slot',
      fetch: async (_partition, asks) => {
        const wanted = asks
          .flatMap((ask) => (ask.type === 'load-slot' ? [ask] : []))
          .sort((a, b) => a.slot_start - b.slot_start);
        const inputs: EnvelopeInput[] = [];
        // One query per run of asked slots an hour or less apart, for every DT asking in it (a meter back
        // from an outage sends hours of stored readings at once, and late uploads tend to share their slots),
        // of at most MAX_LOAD_DT_SLOTS DTs × slots spanned, so that one answer stays small.
        for (let first = 0; first < wanted.length;) {
          const dts = new Set([wanted[first]!.dt_id]);
          let end = first + 1;
          for (; end < wanted.length; end++) {
            const next = wanted[end]!;
            if (next.slot_start - wanted[end - 1]!.slot_start > 3_600_000) break;
            const span = (next.slot_start - wanted[first]!.slot_start) / SLOT_MS + 1;
            if ((dts.size + (dts.has(next.dt_id) ? 0 : 1)) * span > MAX_LOAD_DT_SLOTS) break;
            dts.add(next.dt_id);
          }
          const run = wanted.slice(first, end);
          first = end;
          const stored = await options.slotReadings!(
            [...dts],
            run[0]!.slot_start,
            run.at(-1)!.slot_start + SLOT_MS,
          );
          const bySlot = new Map<string, MeterReading[]>();
          for (const reading of stored) {
            const key = `${reading.dt_id}|${slotStart(reading.ts)}`;
            const readings = bySlot.get(key);
            if (readings) readings.push(reading);
            else bySlot.set(key, [reading]);
          }
          for (const ask of run)
            inputs.push({
              type: 'slot-readings',
              dt_id: ask.dt_id,
              slot_start: ask.slot_start,
              readings: bySlot.get(`${ask.dt_id}|${ask.slot_start}`) ?? [],
            });
          metrics.slotsLoaded.inc(run.length);
        }
        return inputs;
      },
    },
  });

  topology.onChange((dts) => {
    for (const input of meterCounts(dts)) if (input.type !== 'load-patterns') task.inject(dtOf(input), input);
  });
  const injectPatterns = () => {
    const keys = new Map<number, string>();
    for (const dt of topology.index.transformers.keys()) {
      const partition = partitionFor(dt, options.partitions);
      if (!keys.has(partition)) keys.set(partition, dt);
    }
    for (const [partition, key] of keys)
      task.inject(key, { type: 'load-patterns', patterns: forPartition(patterns, partition) });
  };
  void firstPatterns.then(injectPatterns);
  const timer = options.loadPatterns
    ? setInterval(() => void loadPatterns().then(injectPatterns), options.patternsEveryMs ?? 3_600_000)
    : null;
  timer?.unref();
  return {
    stage: task,
    close() {
      if (timer) clearInterval(timer);
    },
  };
}

/** DTs × slots one load reads at most (a DT of 100 one-minute meters: 1,500 readings a slot). */
const MAX_LOAD_DT_SLOTS = 64;

function dtOf(input: EnvelopeInput): string {
  return 'dt_id' in input ? input.dt_id : '';
}

/** The feeder load patterns of every DT of the topology (serving/load-patterns.ts). */
export async function queryLoadPatterns(
  warehouse: Pick<Warehouse, 'query'>,
  topology: Pick<TopologyTable, 'index'>,
  withMeterShapes = true,
  timeZone?: string,
): Promise<LoadPatterns> {
  const counts = topology.index.metersPerDt();
  const dts = new Map<string, ZonedNameplate>();
  for (const [dt, t] of topology.index.transformers)
    dts.set(dt, {
      feeder_id: t.feeder_id,
      rated_kva: Number(t.rated_kva),
      meters_connected: counts.get(dt) ?? 0,
      time_zone: transformerTimeZone(t, timeZone),
    });
  return loadPatternsOf(warehouse, dts, withMeterShapes);
}
