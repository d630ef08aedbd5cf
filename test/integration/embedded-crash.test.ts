import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openWarehouse } from '../../io/warehouse/open.js';
import { Fleet } from '../support/fleet.js';
import { freePort } from '../support/ports.js';
import { Publisher } from '../support/qos1-publisher.js';
import { TEST_API_KEY, TEST_MQTT_USERS, withTestMqttCredentials } from '../support/test-gridstream.js';
import { startRole, urlOf, type RoleProcess } from '../support/role-process.js';

/**
 * Embedded mode (`gridstream run`, nothing external) killed with -9 under a QoS 1 publisher: every reading
 * whose PUBACK the publisher received must be stored, and, once the publisher has sent again what was not
 * acknowledged, the envelopes must equal the simulator's ground truth.
 */
const START = Date.UTC(2026, 6, 1, 8);
const HOURS = 4;
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('embedded mode under kill -9', () => {
  it('stores every acknowledged reading, and the envelopes equal the ground truth once the publisher resends', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gridstream-embedded-crash-'));
    dirs.push(dataDir);
    const port = await freePort();
    const env = {
      GRIDSTREAM_DATA_DIR: dataDir,
      GRIDSTREAM_MQTT_PORT: String(port),
      GRIDSTREAM_PARTITIONS: '4',
      GRIDSTREAM_API_KEYS: TEST_API_KEY,
      GRIDSTREAM_MQTT_USERS: TEST_MQTT_USERS,
    };
    const fleet = new Fleet({
      seed: 23,
      transformers: 3,
      meters: 8,
      start: START,
      end: START + HOURS * 3_600_000,
    });
    const messages = fleet.take();
    const readingsOf = (ks: Iterable<number>) => {
      let n = 0;
      for (const k of ks) {
        const m = messages[k]!;
        if (m.kind === 'telemetry') n += m.readings;
      }
      return n;
    };
    let gridstream: RoleProcess = await startRole('bridge,processor,api', env);
    const url = urlOf(gridstream);
    const loaded = await fetch(`${url}/v1/topology`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': TEST_API_KEY },
      body: JSON.stringify({
        transformers: fleet.sim.topology.transformers,
        meters: fleet.sim.topology.meters,
      }),
    });
    expect(loaded.ok).toBe(true);

    const publisher = new Publisher(withTestMqttCredentials(`mqtt://127.0.0.1:${port}`), messages);
    await publisher.connect();
    const half = Math.floor(messages.length / 2);
    // Killed while messages are in flight: a quarter of the way through, without warning.
    let killed = false;
    await publisher.publish(0, half, () => {
      if (!killed && publisher.acked.size >= half / 2) {
        killed = true;
        gridstream.kill();
      }
    });
    await publisher.close();
    await new Promise<void>((resolve) =>
      gridstream.child.exitCode !== null ? resolve() : gridstream.child.once('exit', () => resolve()),
    );
    const ackedBeforeKill = new Set(publisher.acked);
    expect(ackedBeforeKill.size).toBeGreaterThan(0);
    expect(ackedBeforeKill.size).toBeLessThan(half);

    gridstream = await startRole('bridge,processor,api', env);
    await publisher.connect();
    await publisher.resend(half);
    expect(publisher.resent).toBeGreaterThan(0);
    await publisher.publish(half, messages.length);
    await publisher.close();
    expect(publisher.acked.size).toBe(messages.length);
    // The clean stop drains the log into the warehouse; then this process reads it.
    await gridstream.stop();
    expect(gridstream.child.exitCode, gridstream.output()).toBe(0);

    const warehouse = await openWarehouse({ dataDir });
    try {
      const total = readingsOf(messages.keys());
      const [stored] = await warehouse.query<{ n: string }>('SELECT count() AS n FROM readings FINAL');
      expect(Number(stored!.n)).toBe(total);
      const truth = fleet.finish();
      const rows = await fleet.storedSlots(warehouse);
      expect(fleet.slotsOffTruth(rows)).toEqual([]);
      expect(rows).toHaveLength(truth.size);
      expect(rows.reduce((sum, r) => sum + Number(r.readings), 0)).toBe(total);
    } finally {
      await warehouse.close();
    }
  }, 300_000);
});
