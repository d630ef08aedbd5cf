import { decode } from '../core/codec.js';
import { ownGroup, type Log, type LogConsumer } from '../io/log/log.js';
import type { WeatherObservation } from '../schemas/types.gen.js';
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
  ) {}

  /** Called with the observations not seen before, after each batch read from the topic. */
  onObservations(listener: (fresh: WeatherObservation[]) => void): void {
    this.listeners.push(listener);
  }

  /** Loads `seed` (e.g. the warehouse's recent weather), then follows the topic from its beginning. */
  start(seed?: () => Promise<WeatherObservation[]>): void {
    // A warehouse that is away is waited for: a restore must not start from half the weather.
    this.seeded = (async () => {
      for (let failures = 1; seed && !this.stopped; failures++) {
        try {
          this.add(await seed());
          return;
        } catch (error) {
          if (failures === 1 || failures % 30 === 0)
            console.error(
              `weather table: loading the recent weather failed: ${(error as Error).message} (retrying, ${failures})`,
            );
          await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 200 * failures)));
        }
      }
    })();
    this.consumer = this.log.consumer({
      group: ownGroup('weather-table'),
      topics: [TOPICS.weather.name],
      fromBeginning: true,
      // Lag is known only once the partitions are assigned (Kafka reports 0 before).
      onAssigned: () => {
        this.assigned = true;
      },
    });
    this.running = this.seeded.then(() => this.loop(this.consumer!));
  }

  private async loop(consumer: LogConsumer): Promise<void> {
    while (!this.stopped) {
      const records = await consumer.poll(10_000, 200);
      if (records.length === 0) {
        if (!this.caughtUp && this.assigned && (await consumer.lag()) === 0) this.caughtUp = true;
        continue;
      }
      const fresh = this.add(records.map((r) => decode('WeatherObservation', r.value)));
      await consumer.commit(records);
      if (fresh.length) for (const listener of this.listeners) listener(fresh);
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
