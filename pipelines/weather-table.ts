import { decode } from '../core/codec.js';
import type { Metrics } from '../core/metrics.js';
import { ownGroup, type Log, type LogConsumer } from '../io/log/log.js';
import type { WeatherObservation } from '../schemas/types.gen.js';
import { supervise } from './runtime/fatal.js';
import { messageOf, PoisonRecords } from './runtime/poison.js';
import { retry } from './runtime/retry.js';
import { TOPICS } from './topics.js';

/**
 * Every station's recent weather, as every stress stage instance sees it: a table materialised from the whole
 * weather topic (read in a consumer group of its own, like the topology table), seeded from the warehouse for
 * what the topic no longer holds (the in-process log starts empty after a restart; Kafka keeps a week).
 *
 * Why the topic and not the warehouse alone: weather is keyed by station, and a stage instance's DTs use
 * stations whose records sit in any partition, so each instance needs all of it; the warehouse has it too,
 * but only after the sink's batching, and a DT's slot waits for its station's weather (processors/stress.ts),
 * so reading the topic directly keeps the stress rows as close behind the envelopes as the log allows. Weather
 * is small (one record a minute per station), so holding `keepMs` of it costs little.
 *
 * An observation seen twice (the warehouse seed and the topic overlap; a redelivery) is passed on once.
 */
export class WeatherTable {
  private readonly stations = new Map<string, Map<number, WeatherObservation>>();
  private newest = Number.NEGATIVE_INFINITY;
  private consumer: LogConsumer | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private caughtUp = false;
  private assigned = false;
  private readonly listeners: Array<(fresh: WeatherObservation[]) => void> = [];
  private seeded: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: Log,
    private readonly keepMs: number,
    private readonly options: { metrics?: Pick<Metrics, 'deadLetters'> } = {},
  ) {}

  /** Called with the observations not seen before, after each batch read from the topic. */
  onObservations(listener: (fresh: WeatherObservation[]) => void): void {
    this.listeners.push(listener);
  }

  /** Loads `seed` (e.g. the warehouse's recent weather), then follows the topic from its beginning. */
  start(seed?: () => Promise<WeatherObservation[]>): void {
    const stopping = { stopping: () => this.stopped };
    // A warehouse that is away is waited for: a restore must not start from half the weather.
    this.seeded = seed
      ? retry('weather table: loading the recent weather', seed, stopping).then((observations) => {
          this.add(observations);
        })
      : Promise.resolve();
    this.consumer = this.log.consumer({
      group: ownGroup('weather-table'),
      topics: [TOPICS.weather.name],
      fromBeginning: true,
      // Lag is known only once the partitions are assigned (Kafka reports 0 before).
      onAssigned: () => {
        this.assigned = true;
      },
    });
    const poison = new PoisonRecords({
      producer: this.log.producer(),
      stopping: () => this.stopped,
      metrics: this.options.metrics,
    });
    const consumer = this.consumer;
    // On a stop nothing is lost: the table is rebuilt by the next start.
    this.running = supervise(
      'weather table',
      this.seeded.then(() => this.loop(consumer, poison)),
      () => this.stopped,
    ).then(() => undefined);
    // ready() awaits the seed: a seed given up on at a stop is reported above, not again there.
    this.seeded = this.seeded.catch(() => undefined);
  }

  private async loop(consumer: LogConsumer, poison: PoisonRecords): Promise<void> {
    const stopping = { stopping: () => this.stopped };
    while (!this.stopped) {
      const records = await retry(
        'weather table: reading the log',
        () => consumer.poll(10_000, 200),
        stopping,
      );
      if (records.length === 0) {
        if (!this.caughtUp && this.assigned && (await consumer.lag().catch(() => -1)) === 0)
          this.caughtUp = true;
        continue;
      }
      const observations: WeatherObservation[] = [];
      const dead: Array<Promise<void>> = [];
      for (const record of records)
        try {
          observations.push(decode('WeatherObservation', record.value));
        } catch (error) {
          // Poison: dead-lettered, and the table does without it.
          dead.push(poison.deadLetter(record, `weather table: ${messageOf(error)}`));
        }
      const fresh = this.add(observations);
      await Promise.all(dead);
      await retry('weather table: committing', () => consumer.commit(records), stopping);
      for (const listener of this.listeners)
        try {
          if (fresh.length) listener(fresh);
        } catch (error) {
          console.error(`weather table: a listener failed: ${(error as Error).stack ?? messageOf(error)}`);
        }
    }
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
    const deadline = Date.now() + timeoutMs;
    while (!this.caughtUp && !this.stopped) {
      if (Date.now() > deadline)
        throw new Error(`the weather topic was not read to its end in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The observations held of some stations, in time order. */
  observations(stations: Iterable<string>): WeatherObservation[] {
    const out: WeatherObservation[] = [];
    for (const station of stations) out.push(...(this.stations.get(station)?.values() ?? []));
    return out.sort((a, b) => a.ts - b.ts || (a.station_id < b.station_id ? -1 : 1));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    await this.consumer?.close();
  }
}
