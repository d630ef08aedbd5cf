import { decode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import type { Log } from '../io/log/log.js';
import type { WeatherObservation } from '../schemas/types.gen.js';
import { GlobalTable, notify } from './runtime/global-table.js';
import { retry } from './runtime/retry.js';
import { TOPICS } from './log-topics.js';

/**
 * Every station's recent weather, as every stress stage instance sees it: a table materialised from the whole
 * weather topic (read in a consumer group of its own, like the topology table), seeded from the warehouse for
 * what the topic no longer holds (the in-process log keeps only what some group has not committed; Kafka a week).
 *
 * Why the topic and not the warehouse alone: weather is keyed by station, and a stage instance's DTs use
 * stations whose records sit in any partition, so each instance needs all of it; the warehouse has it too,
 * but only after the sink's batching, and a DT's slot waits for its station's weather (processors/stress/stress.ts),
 * so reading the topic directly keeps the stress rows as close behind the envelopes as the log allows. Weather
 * is small (one record a minute per station), so holding `keepMs` of it costs little.
 *
 * An observation seen twice (the warehouse seed and the topic overlap; a redelivery) is passed on once.
 */
export class WeatherTable {
  private readonly stations = new Map<string, Map<number, WeatherObservation>>();
  private newest = Number.NEGATIVE_INFINITY;
  private readonly listeners: Array<(fresh: WeatherObservation[]) => void> = [];
  private seeded: Promise<void> = Promise.resolve();
  private readonly table: GlobalTable<WeatherObservation>;

  constructor(
    log: Log,
    private readonly keepMs: number,
    options: { metrics?: Pick<Metrics, 'deadLetters'> } = {},
  ) {
    this.table = new GlobalTable<WeatherObservation>({
      log,
      name: 'weather table',
      topics: [TOPICS.weather.name],
      decode: (record) => decode('WeatherObservation', record.value),
      apply: (observations) => {
        const fresh = this.add(observations);
        if (fresh.length) notify('weather table', this.listeners, fresh);
      },
      metrics: options.metrics,
    });
  }

  /** Called with the observations not seen before, after each batch read from the topic. */
  onObservations(listener: (fresh: WeatherObservation[]) => void): void {
    this.listeners.push(listener);
  }

  /** Loads `seed` (e.g. the warehouse's recent weather), then follows the topic from its beginning. */
  start(seed?: () => Promise<WeatherObservation[]>): void {
    // A warehouse that is away is waited for: a restore must not start from half the weather.
    const seeding = seed
      ? retry('weather table: loading the recent weather', seed, {
          stopping: () => this.table.isStopped(),
        }).then((observations) => {
          this.add(observations);
        })
      : Promise.resolve();
    this.table.start(seeding);
    // ready() awaits the seed: a seed given up on at a stop is reported by the table, not again there.
    this.seeded = seeding.catch(() => undefined);
  }

  /** Adds observations; returns those not held before. Drops what is older than `keepMs` before the newest. */
  private add(observations: WeatherObservation[]): WeatherObservation[] {
    const fresh: WeatherObservation[] = [];
    for (const o of observations) {
      let held = this.stations.get(o.station_id);
      if (!held) this.stations.set(o.station_id, (held = new Map()));
      if (held.has(o.ts)) continue;
      held.set(o.ts, o);
      fresh.push(o);
      if (o.ts > this.newest) this.newest = o.ts;
    }
    if (fresh.length) {
      const cutoff = this.newest - this.keepMs;
      for (const held of this.stations.values())
        for (const ts of held.keys()) {
          // Maps iterate in insertion order, which is nearly time order: stop at the first one kept.
          if (ts >= cutoff) break;
          held.delete(ts);
        }
    }
    return fresh;
  }

  /** Resolves once the seed is in and the topic has been read to its end (what a restore may rely on). */
  async ready(timeoutMs = 120_000): Promise<void> {
    await this.seeded;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the weather topic was not read to its end in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.table.caughtUp(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The observations held of some stations, in time order. */
  observations(stations: Iterable<string>): WeatherObservation[] {
    const out: WeatherObservation[] = [];
    for (const station of stations) out.push(...(this.stations.get(station)?.values() ?? []));
    return out.sort((a, b) => a.ts - b.ts || (a.station_id < b.station_id ? -1 : 1));
  }

  stop(): Promise<void> {
    return this.table.stop();
  }
}
