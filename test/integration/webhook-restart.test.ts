import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { encode } from '../../core/codec.js';
import { createMetrics } from '../../core/metrics.js';
import { SLOT_MS, slotStart } from '../../core/time.js';
import { MemoryLog } from '../../io/log/memory-log.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { dtStressRow, topologyTransformerRow } from '../../io/warehouse/rows.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { configureWebhookEgress } from '../../io/webhooks/egress.js';
import { saveSubscription } from '../../io/webhooks/store.js';
import { TOPICS, topicSpecs } from '../../pipelines/log-topics.js';
import { startWebhookTask, type WebhookPolicy } from '../../pipelines/webhook-task.js';
import type { DtStress } from '../../schemas/types.gen.js';
import { openTestWarehouse, type TestWarehouse } from '../support/clickhouse-server.js';
import { stressRow } from '../support/records.js';
import { transformer } from '../support/topology.js';

/**
 * The webhook sender restarted on the same input (the same warehouse, the records since its last commit read
 * again, as after a crash or when a partition moves to another instance): no event reaches a subscriber twice,
 * a DT still over the stress bar does not alert again, and a delivery whose attempt failed before the restart
 * is still retried after it.
 */
const START = slotStart(Date.now()) - 8 * SLOT_MS;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  event_id: string;
}

describe('the webhook sender restarted on the same input', () => {
  let opened: TestWarehouse;
  let warehouse: Warehouse;
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '';
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { event_id: string };
      received.push({ path, headers: request.headers, event_id: body.event_id });
      // /flaky fails its first request with a 503: that delivery is retried.
      const n = received.filter((r) => r.path === path).length;
      response.writeHead(path === '/flaky' && n === 1 ? 503 : 200).end();
    });
  });
  let url = '';

  const at = (path: string) => received.filter((r) => r.path === path);
  const until = async (done: () => boolean, what: string, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline)
        throw new Error(`${what} not seen; got ${received.map((r) => `${r.path} ${r.event_id}`).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  // The retry of /flaky's failed attempt is due 3 s after it: after the restart.
  const policy: WebhookPolicy = {
    maxAttempts: 3,
    backoffMs: 3000,
    alerts: { stressProbability: 0.5, rearmProbability: 0.3 },
  };

  /** One run of the sender over `rows` on a fresh log (nothing committed: all of them are read). */
  const run = async (rows: DtStress[], done: () => boolean, what: string) => {
    // The warehouse sink stores the stress rows as they are published (the alert state is rebuilt from them).
    await warehouse.insert('dt_stress', rows.map(dtStressRow));
    const log = new MemoryLog();
    await log.ensureTopics(topicSpecs(2));
    const task = startWebhookTask({ log, warehouse, metrics: createMetrics(), policy });
    await log.producer().send(
      TOPICS.stress.name,
      rows.map((row) => ({ key: row.dt_id, value: encode('DtStress', row) })),
    );
    await until(done, what);
    // Time for anything sent twice to arrive.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await task.stop();
    await log.close();
  };

  beforeAll(async () => {
    // The receiver is on loopback, which only the operator's allow-list opens to webhooks.
    configureWebhookEgress('127.0.0.1');
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    opened = await openTestWarehouse('embedded');
    warehouse = opened.warehouse;
    await migrate(warehouse);
    // The DTs are the default tenant's: events of a DT no tenant owns go to no subscription.
    await warehouse.insert(
      'topology_transformers',
      ['dt-a', 'dt-b', 'dt-c'].map((id) =>
        topologyTransformerRow({ ...transformer(id), topology_version: 1 }),
      ),
    );
    for (const id of ['hook', 'flaky'])
      await saveSubscription(
        warehouse,
        {
          tenant: 'default',
          id,
          url: `${url}/${id}`,
          event_types: ['STRESS.ALERT'],
          description: '',
          created_ms: Date.now(),
          secret: `whsec_${id}`,
        },
        { at: Date.now(), deleted: false },
      );
  }, 120_000);
  afterAll(async () => {
    await opened?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends no event twice, keeps a DT over the bar from alerting again, and still retries a failed attempt', async () => {
    const calm = { voltage_stress_prob: 0.01, thermal_exceeded: false, voltage_exceeded: false };
    const a0 = stressRow('dt-a', START, { ...calm, thermal_stress_prob: 0.8 });
    const b0 = stressRow('dt-b', START, { ...calm, thermal_stress_prob: 0.9 });
    await run([a0, b0], () => at('/hook').length === 2 && at('/flaky').length === 2, 'the first run');
    const failed = at('/flaky')[0]!.event_id;

    // The restart: dt-b's record read again (its commit was lost), dt-a's next slot still over the bar (no
    // new alert: it has not re-armed), dt-c's first alert (new).
    const a1 = stressRow('dt-a', START + SLOT_MS, { ...calm, thermal_stress_prob: 0.7 });
    const c0 = stressRow('dt-c', START, { ...calm, thermal_stress_prob: 0.95 });
    await run(
      [b0, a1, c0],
      () => at('/hook').length >= 3 && at('/flaky').length >= 4,
      "dt-c's alert and the retry after the restart",
    );

    const ids = (path: string) => at(path).map((r) => r.event_id);
    const alert = (row: DtStress) => `STRESS.ALERT:${row.dt_id}:${row.slot_start}:thermal`;
    expect(ids('/hook').sort()).toEqual([alert(a0), alert(b0), alert(c0)]);
    // The failed attempt and its retry (attempt 2, resumed from the delivery log), each other event once.
    expect(ids('/flaky').sort()).toEqual([alert(a0), alert(b0), alert(c0), failed].sort());
    expect(
      at('/flaky')
        .filter((r) => r.event_id === failed)
        .map((r) => r.headers['gridstream-delivery-attempt']),
    ).toEqual(['1', '2']);
  }, 120_000);
});
