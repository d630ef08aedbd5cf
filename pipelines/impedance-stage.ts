import { encode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import type { ProduceRecord } from '../io/log/log.js';
import {
  applyImpedanceReading,
  initialImpedanceState,
  stepImpedance,
  type ImpedanceConfig,
  type ImpedanceInput,
  type ImpedanceOutput,
  type ImpedanceState,
  type LegDayImpedance,
} from '../processors/impedance/impedance.js';
import type { ImpedanceDaily, ImpedanceFlagKind, MeterReading } from '../schemas/types.gen.js';
import { KeyedStage } from './keyed-stage.js';
import type { TopologyTable } from './topology-table.js';
import { TOPICS } from './log-topics.js';

const FLAG_KINDS: readonly ImpedanceFlagKind[] = ['absolute', 'own_rise', 'peer_rise'];

/**
 * readings → impedance processor → daily leg impedance and high-impedance flags. The CIS/GIS identifiers of
 * each row (service point, meter number, serial number, premise) come from the topology when it is written.
 * It runs on the readings task (pipelines/readings-task.ts) beside the envelope stage.
 */
export function impedanceStage(options: {
  partitions: number;
  config: ImpedanceConfig;
  metrics: Metrics;
  topology: TopologyTable;
  /** Readings that rebuild a partition's state (the day in progress) when it is assigned here. */
  restore?: (partition: number) => AsyncIterable<ImpedanceInput[]>;
  emitEveryMs?: number;
}): KeyedStage<ImpedanceState, ImpedanceInput, ImpedanceOutput, MeterReading> {
  const { metrics, topology } = options;
  const flagged = new FlaggedLegs(metrics);
  const dailyRecord = (row: LegDayImpedance): ImpedanceDaily => {
    const meter = topology.index.meters.get(row.meter_id);
    return {
      ...row,
      service_point_id: meter?.service_point_id ?? null,
      meter_number: meter?.meter_number ?? null,
      electronic_serial_number: meter?.electronic_serial_number ?? null,
      premise_id: meter?.premise_id ?? null,
    };
  };
  return new KeyedStage<ImpedanceState, ImpedanceInput, ImpedanceOutput, MeterReading>({
    partitions: options.partitions,
    processor: {
      name: 'impedance',
      init: initialImpedanceState,
      step: (state, input) => stepImpedance(state, input, options.config),
    },
    toInput: (reading) => ({ type: 'reading', reading }),
    applyValue: (state, reading, outputs) => applyImpedanceReading(state, reading, options.config, outputs),
    // Leg-days change slowly; a provisional median a minute old is fresh enough.
    punctuation: { input: { type: 'emit' }, everyMs: options.emitEveryMs ?? 60_000 },
    // The day in progress: its readings rebuild its estimates (and relearn each leg's peers).
    replayLookbackMs: 24 * 3_600_000 + options.config.allowedLatenessMs,
    route: (outputs) => {
      const daily: ProduceRecord[] = [];
      const flags: ProduceRecord[] = [];
      for (const output of outputs) {
        switch (output.type) {
          case 'leg-day':
            daily.push({
              key: output.row.dt_id,
              value: encode('ImpedanceDaily', dailyRecord(output.row)),
              timestamp: output.row.day,
            });
            if (output.row.is_final) {
              metrics.impedanceLegDays.inc({ outcome: 'published' });
              flagged.dayFinal(output.row.day);
            }
            break;
          case 'insufficient':
            metrics.impedanceLegDays.inc({ outcome: 'insufficient' });
            flagged.dayFinal(output.day);
            break;
          case 'flag':
            flags.push({
              key: output.flag.dt_id,
              value: encode('ImpedanceFlag', output.flag),
              timestamp: output.flag.day,
            });
            metrics.impedanceFlags.inc({ kind: output.flag.kind });
            flagged.flag(`${output.flag.meter_id}/${output.flag.leg}`, output.flag.kind, output.flag.day);
            break;
          case 'too-late':
            metrics.impedanceTooLate.inc();
            break;
        }
      }
      return new Map([
        [TOPICS.impedance.name, daily],
        [TOPICS.impedanceFlags.name, flags],
      ]);
    },
    restore: options.restore,
  });
}

/**
 * The gauge gridstream_impedance_flagged_legs: legs flagged on the latest UTC day made final here, by kind,
 * so an alert can fire while a leg stays flagged and clear once a day passes without its flag.
 */
class FlaggedLegs {
  private latestDay = Number.NEGATIVE_INFINITY;
  private readonly legs = new Map<ImpedanceFlagKind, Map<string, number>>(
    FLAG_KINDS.map((k) => [k, new Map()]),
  );

  constructor(private readonly metrics: Metrics) {
    for (const kind of FLAG_KINDS) metrics.impedanceFlaggedLegs.set({ kind }, 0);
  }

  dayFinal(day: number): void {
    if (day <= this.latestDay) return;
    this.latestDay = day;
    this.publish();
  }

  flag(leg: string, kind: ImpedanceFlagKind, day: number): void {
    const legs = this.legs.get(kind)!;
    legs.set(leg, Math.max(day, legs.get(leg) ?? day));
    this.dayFinal(day);
    this.publish();
  }

  private publish(): void {
    for (const [kind, legs] of this.legs) {
      for (const [leg, day] of legs) if (day < this.latestDay) legs.delete(leg);
      this.metrics.impedanceFlaggedLegs.set({ kind }, legs.size);
    }
  }
}
