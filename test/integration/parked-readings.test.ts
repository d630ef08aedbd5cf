import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startGridstream, type Gridstream } from '../../app/start-gridstream.js';
import { sqlQuery } from '../../io/warehouse/sql-files.js';
import { testConfig, testMqttUrl } from '../support/test-gridstream.js';
import { meter, transformer } from '../support/topology.js';

/**
 * Readings of a meter the topology does not name yet are parked (dead-lettered unknown_meter); once a version
 * places the meter they go back into the pipeline, once, and the DT's envelope is what it would have been had
 * the meter been known all along: dt-b's twin meter, known from the start, publishes the same readings.
 */
const minute = (m: number) => Date.UTC(2026, 6, 1, 10, m);
const reading = (m: number, p: number) => ({
  ts: minute(m),
  p_kw: p,
  q_kvar: 0.1 * p,
  legs: [{ leg: 1, v: 230 + (m % 5), i: p * 4.3 }],
});
const dir = mkdtempSync(join(tmpdir(), 'gridstream-parked-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parked readings', () => {
  it('go back into the pipeline once their meter is placed, once, and the envelope equals ground truth', async () => {
    const config = testConfig(dir);
    let g: Gridstream = await startGridstream(config, { host: '127.0.0.1' });
    const transformers = [transformer('dt-a'), transformer('dt-b')];
    const known = [meter('m-a1', 'dt-a'), meter('m-b1', 'dt-b'), meter('m-b9', 'dt-b')];
    await g.pipeline.loadTopology({ transformers, meters: known }, 'v1');
    const client = await mqtt.connectAsync(testMqttUrl(g), { clientId: 'parked-test' });
    const publish = (meterId: string, payload: unknown) =>
      client.publishAsync(`gridstream/v1/meters/${meterId}/telemetry`, JSON.stringify(payload), { qos: 1 });
    for (let m = 0; m < 15; m++) {
      const p = 1 + ((m * 7) % 5) * 0.37;
      await publish('m-a1', reading(m, 2.1));
      await publish('m-b1', reading(m, 2.1));
      // m-a9 is installed but not yet in the topology; m-b9 is its twin, known from the start. Singles and a
      // batch, as meters send them.
      if (m < 10) {
        await publish('m-a9', reading(m, p));
        await publish('m-b9', reading(m, p));
      }
    }
    const batch = [10, 11, 12, 13, 14].map((m) => reading(m, 0.5 + m / 10));
    await publish('m-a9', batch);
    await publish('m-b9', batch);
    // A later slot closes the 10:00 slot.
    await publish('m-a1', reading(31, 1));
    await publish('m-b1', reading(31, 1));
    await g.pipeline.settle();
    const parkedRows = await g.edges.warehouse.query<{ n: string }>(
      "SELECT count() AS n FROM dead_letters FINAL WHERE reason_code = 'unknown_meter' AND key = 'm-a9'",
    );
    expect(Number(parkedRows[0]!.n)).toBe(15);

    await g.pipeline.loadTopology({ transformers, meters: [...known, meter('m-a9', 'dt-a')] }, 'v2');
    // The topology change alone sends them back (nothing here asks for it).
    const deadline = Date.now() + 30_000;
    while ((await releasedSoFar(g)) < 15) {
      if (Date.now() > deadline) throw new Error(`${await releasedSoFar(g)} of 15 parked readings released`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await g.pipeline.settle();
    expect(await releasedSoFar(g)).toBe(15);

    const slot = async (dt: string) => {
      const rows = await g.edges.warehouse.query<Record<string, unknown>>(sqlQuery('envelopes_for_dt'), {
        dt_id: dt,
        from_ms: minute(0),
        to_ms: minute(15),
      });
      expect(rows).toHaveLength(1);
      const { dt_id: _dt, version: _v, ...figures } = rows[0]!;
      return figures;
    };
    const a = await slot('dt-a');
    expect(a.readings).toBe(30);
    expect(a).toEqual(await slot('dt-b'));
    const [stored] = await g.edges.warehouse.query<{ n: string }>(
      "SELECT count() AS n FROM readings FINAL WHERE meter_id = 'm-a9'",
    );
    expect(Number(stored!.n)).toBe(15);

    // Once: neither another sweep nor a restart sends them again.
    expect(await g.pipeline.releaseParked()).toBe(0);
    await client.endAsync();
    await g.stop();
    g = await startGridstream(config, { host: '127.0.0.1' });
    try {
      // The start's own sweep and this one send nothing.
      expect(await g.pipeline.releaseParked()).toBe(0);
      expect(await releasedSoFar(g)).toBe(0);
    } finally {
      await g.stop();
    }
  }, 120_000);
});

/** Readings this process has sent back (gridstream_parked_readings_released_total). */
async function releasedSoFar(g: Gridstream): Promise<number> {
  const text = await g.metrics.registry.getSingleMetricAsString('gridstream_parked_readings_released_total');
  return Number(/ (\d+)$/m.exec(text)?.[1] ?? 0);
}
