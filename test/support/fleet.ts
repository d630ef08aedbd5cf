import mqtt, { type MqttClient } from 'mqtt';
import { GroundTruth, type DtSlotTruth } from '../../simulator/ground-truth.js';
import { createSimulation, type Simulation, type SimMessage } from '../../simulator/model.js';
import { planSimulation } from '../../simulator/command.js';
import { sqlQuery } from '../../io/warehouse/sql-files.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import type { TestMosquitto } from './mosquitto.js';

/** A stored envelope slot, as the application's own (version-gated) query returns it. */
export interface StoredSlot {
  dt_id: string;
  slot_start_ms: string;
  import_kwh: number;
  export_kwh: number;
  readings: number;
}

/**
 * A simulated feeder whose meters publish like a real fleet: each meter (and weather station) over its own
 * authenticated MQTT connection, so the broker's per-meter ACL applies.
 */
export class Fleet {
  readonly sim: Simulation;
  readonly truth: GroundTruth;
  readonly slots = new Map<string, DtSlotTruth>();
  /** Meter readings published so far (weather observations not counted). */
  readings = 0;
  private readonly messages: Generator<SimMessage>;
  private finished = false;

  private readonly start: number;
  private readonly end: number;

  constructor(options: { seed: number; transformers: number; meters: number; start: number; end: number }) {
    this.start = options.start;
    this.end = options.end;
    this.sim = createSimulation(
      planSimulation({ mqttUrl: 'mqtt://unused', ...options, silentShare: 0, now: options.end }),
    );
    this.truth = new GroundTruth(this.sim.topology.meters, { intervalMs: this.sim.options.intervalMs });
    this.messages = this.sim.messages();
  }

  /** Accounts for the broker: every meter and weather station, password = 'pw-' + id. */
  accounts(): Record<string, string> {
    const accounts: Record<string, string> = {};
    for (const m of this.sim.topology.meters) accounts[m.meter_id] = `pw-${m.meter_id}`;
    for (const t of this.sim.topology.transformers)
      if (t.weather_station_id) accounts[`weather.${t.weather_station_id}`] = 'pw-weather';
    return accounts;
  }

  /** Publishes the next `count` messages (or all that are left), QoS 1, each over its own device's connection. */
  async publish(broker: TestMosquitto, count = Number.POSITIVE_INFINITY): Promise<number> {
    const clients = new Map<string, MqttClient>();
    const clientFor = async (user: string) => {
      let client = clients.get(user);
      if (!client) {
        client = await mqtt.connectAsync(broker.urlFor(user), { clientId: `fleet-${user}` });
        clients.set(user, client);
      }
      return client;
    };
    let sent = 0;
    const inFlight: Promise<unknown>[] = [];
    try {
      for (
        let next = this.messages.next();
        !next.done;
        next = sent < count ? this.messages.next() : { done: true, value: undefined }
      ) {
        const message = next.value;
        const user = message.kind === 'weather' ? `weather.${message.source}` : message.source;
        const client = await clientFor(user);
        inFlight.push(client.publishAsync(message.topic, JSON.stringify(message.payload), { qos: 1 }));
        if (inFlight.length >= 200) await Promise.all(inFlight.splice(0));
        for (const row of this.truth.add(message)) this.slots.set(`${row.dt_id}|${row.slot_start}`, row);
        if (message.kind === 'telemetry') this.readings += message.readings;
        sent++;
        if (sent >= count) break;
      }
      await Promise.all(inFlight);
    } finally {
      await Promise.all([...clients.values()].map((c) => c.endAsync()));
    }
    return sent;
  }

  /**
   * The next `count` messages (or all that are left), counted in the ground truth, for a test that publishes
   * them itself.
   */
  take(count = Number.POSITIVE_INFINITY): SimMessage[] {
    const taken: SimMessage[] = [];
    for (let next = this.messages.next(); !next.done; next = this.messages.next()) {
      const message = next.value;
      for (const row of this.truth.add(message)) this.slots.set(`${row.dt_id}|${row.slot_start}`, row);
      if (message.kind === 'telemetry') this.readings += message.readings;
      taken.push(message);
      if (taken.length >= count) break;
    }
    return taken;
  }

  /** The newest version of every slot of the fleet's DTs in the warehouse. */
  async storedSlots(warehouse: Warehouse): Promise<StoredSlot[]> {
    const rows: StoredSlot[] = [];
    for (const t of this.sim.topology.transformers)
      rows.push(
        ...(await warehouse.query<StoredSlot>(sqlQuery('envelopes_for_dt'), {
          dt_id: t.dt_id,
          from_ms: this.start - 86_400_000,
          to_ms: this.end + 86_400_000,
        })),
      );
    return rows;
  }

  /**
   * The stored slots whose energy is not the ground truth's within 1e-9 relative (one reading is 0.2 to 0.3%
   * of a slot), or that the truth has no slot for: empty when nothing was lost or counted twice.
   */
  slotsOffTruth(rows: readonly StoredSlot[]): StoredSlot[] {
    const truth = this.finish();
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.abs(b) + 1e-12;
    return rows.filter((r) => {
      const t = truth.get(`${r.dt_id}|${Number(r.slot_start_ms)}`);
      return !t || !close(r.import_kwh, t.import_kwh) || !close(r.export_kwh, t.export_kwh);
    });
  }

  /** The truth of every slot, once everything is published. */
  finish(): Map<string, DtSlotTruth> {
    if (!this.finished)
      for (const row of this.truth.finish()) this.slots.set(`${row.dt_id}|${row.slot_start}`, row);
    this.finished = true;
    return this.slots;
  }
}
