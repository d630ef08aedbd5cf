import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../../io/warehouse/open.js';
import { sqlQuery } from '../../io/warehouse/sql-files.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouse-server.js';
import { Fleet } from '../support/fleet.js';
import { startTestGridstream, TEST_API_KEY } from '../support/gridstream.js';
import { startKafka } from '../support/kafka.js';
import { startMosquitto, type TestMosquitto } from '../support/mosquitto.js';
import { startRole, type RoleProcess } from '../support/role-process.js';

/**
 * Distributed mode on real services: meters publish to Mosquitto with their own accounts; the bridge (this
 * process) puts readings on Kafka; processors run as separate `gridstream run --role processor` processes
 * (killed with -9, doubled up, outlived by a broker restart and a ClickHouse outage); results land in a
 * ClickHouse server. Every scenario must end with exactly the simulator's ground truth.
 */
const START = Date.UTC(2026, 6, 1, 8);
const HOURS = 6;
const PARTITIONS = 4;
let scenarioNumber = 0;

describe('distributed mode: Mosquitto → Kafka → processors → ClickHouse server', () => {
  let clickhouse: ClickHouseServer;
  let mosquitto: TestMosquitto;
  const fleetOptions = { seed: 11, transformers: 3, meters: 8, start: START, end: START + HOURS * 3_600_000 };

  beforeAll(async () => {
    clickhouse = await startClickHouseServer();
    mosquitto = await startMosquitto({
      users: { 'gridstream-ingest': 'ingest-secret', ...new Fleet(fleetOptions).accounts() },
    });
  }, 180_000);
  afterAll(async () => {
    await mosquitto?.stop();
    await clickhouse?.stop();
  });

  /** A fresh Kafka, ClickHouse database and fleet; the bridge here; processors as child processes. */
  async function scenario() {
    const n = ++scenarioNumber;
    const kafka = await startKafka();
    const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-distributed-'));
    const clickhouseUrl = `${clickhouse.url}/gridstream_${n}_${process.pid}`;
    const env = {
      GRIDSTREAM_KAFKA_BROKERS: kafka.brokers,
      GRIDSTREAM_CLICKHOUSE_URL: clickhouseUrl,
      GRIDSTREAM_PARTITIONS: String(PARTITIONS),
      GRIDSTREAM_API_KEYS: TEST_API_KEY,
      GRIDSTREAM_DATA_DIR: dataDir,
    };
    const processors: RoleProcess[] = [];
    const processor = async () => {
      const p = await startRole('processor', env);
      processors.push(p);
      return p;
    };
    await processor();
    const bridge = await startTestGridstream(
      {
        kafkaBrokers: kafka.brokers,
        clickhouseUrl,
        partitions: PARTITIONS,
        mqttUrl: mosquitto.urlFor('gridstream-ingest'),
        mqttClientId: `ingest-${n}`,
      },
      ['bridge', 'api'],
    );
    const fleet = new Fleet(fleetOptions);
    await bridge.pipeline.loadTopology(
      { transformers: fleet.sim.topology.transformers, meters: fleet.sim.topology.meters },
      'distributed test',
    );
    const warehouse = await openWarehouse({ clickhouseUrl, dataDir });
    return {
      kafka,
      fleet,
      bridge,
      warehouse,
      processor,
      processors,
      async close() {
        await bridge.stop();
        await Promise.all(processors.map((p) => p.stop()));
        await warehouse.close();
        await kafka.destroy();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }

  /** Waits until every published reading is stored once and the envelopes account for all of them. */
  async function untilComplete(warehouse: Warehouse, fleet: Fleet, timeoutMs = 240_000) {
    const truth = fleet.finish();
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const [stored] = await warehouse.query<{ n: string }>('SELECT count() AS n FROM readings FINAL');
      const rows = await envelopes(warehouse, fleet);
      const inSlots = rows.reduce((sum, r) => sum + Number(r.readings), 0);
      last = `readings ${stored!.n}/${fleet.readings}, slots ${rows.length}/${truth.size}, in slots ${inSlots}`;
      if (Number(stored!.n) === fleet.readings && rows.length === truth.size && inSlots === fleet.readings)
        return rows;
      if (Date.now() > deadline) throw new Error(`pipeline incomplete after ${timeoutMs} ms: ${last}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  /** The newest version of every slot of every DT, through the application's own (version-gated) query. */
  async function envelopes(warehouse: Warehouse, fleet: Fleet) {
    const rows: Array<{
      dt_id: string;
      slot_start_ms: string;
      import_kwh: number;
      export_kwh: number;
      readings: number;
    }> = [];
    for (const t of fleet.sim.topology.transformers) {
      rows.push(
        ...(await warehouse.query<(typeof rows)[number]>(sqlQuery('envelopes_for_dt'), {
          dt_id: t.dt_id,
          from_ms: START - 86_400_000,
          to_ms: START + 2 * 86_400_000,
        })),
      );
    }
    return rows;
  }

  /** Each slot's energy equals the ground truth: nothing lost, nothing counted twice. */
  function expectTruth(rows: Awaited<ReturnType<typeof envelopes>>, fleet: Fleet) {
    const truth = fleet.finish();
    const off = rows.filter((r) => {
      const t = truth.get(`${r.dt_id}|${Number(r.slot_start_ms)}`);
      if (!t) return true;
      const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.abs(b) + 1e-9;
      return !close(r.import_kwh, t.import_kwh) || !close(r.export_kwh, t.export_kwh);
    });
    expect(off).toEqual([]);
    expect(rows).toHaveLength(truth.size);
  }

  it('kill -9 of the processor mid-stream and a restart give the results of an uninterrupted run', async () => {
    const s = await scenario();
    try {
      const total = 3 * 8 * HOURS * 60;
      await s.fleet.publish(mosquitto, Math.floor(total / 2));
      // Let the processor get well into the stream, then kill it without warning.
      const deadline = Date.now() + 60_000;
      while (
        Number((await s.warehouse.query<{ n: string }>('SELECT count() AS n FROM readings'))[0]!.n) <
        total / 4
      ) {
        if (Date.now() > deadline) throw new Error('processor made no progress');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      s.processors[0]!.kill();
      await s.fleet.publish(mosquitto, Math.floor(total / 4));
      await s.processor();
      await s.fleet.publish(mosquitto);
      expectTruth(await untilComplete(s.warehouse, s.fleet), s.fleet);
    } finally {
      await s.close();
    }
  }, 600_000);

  it('two processors sharing the partitions give the same results as one', async () => {
    const s = await scenario();
    try {
      const second = await s.processor();
      await s.fleet.publish(mosquitto);
      expectTruth(await untilComplete(s.warehouse, s.fleet), s.fleet);
      const owned = await Promise.all(
        s.processors.map(async (p) => {
          const url = /at (http:\/\/[^ ]+)/.exec(p.output())![1]!;
          const metrics = await (await fetch(`${url}/metrics`)).text();
          return Number(
            /gridstream_assigned_partitions\{group="gridstream-readings"\} (\d+)/.exec(metrics)?.[1] ?? 0,
          );
        }),
      );
      expect(second.child.exitCode).toBeNull();
      expect(
        owned.every((count) => count > 0),
        `partitions per processor: ${owned.join(', ')}`,
      ).toBe(true);
      expect(owned.reduce((a, b) => a + b, 0)).toBe(PARTITIONS);
    } finally {
      await s.close();
    }
  }, 600_000);

  it('survives a Kafka broker restart and ClickHouse down for 30 s: nothing lost, nothing doubled', async () => {
    const s = await scenario();
    try {
      const total = 3 * 8 * HOURS * 60;
      await s.fleet.publish(mosquitto, Math.floor(total / 3));
      await s.kafka.stop();
      // Meters keep publishing while Kafka is down: the bridge holds their acknowledgements.
      const during = s.fleet.publish(mosquitto, Math.floor(total / 3));
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      await s.kafka.start();
      await during;
      await clickhouse.down();
      const rest = s.fleet.publish(mosquitto);
      await new Promise((resolve) => setTimeout(resolve, 30_000));
      await clickhouse.up();
      await rest;
      expectTruth(await untilComplete(s.warehouse, s.fleet), s.fleet);
    } finally {
      await s.close();
    }
  }, 600_000);
});
