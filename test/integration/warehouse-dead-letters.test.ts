import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { encode } from '../../core/codec.js';
import { createMetrics } from '../../core/metrics.js';
import { sqlDir } from '../../core/paths.js';
import { MemoryLog } from '../../io/log/memory-log.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { dateTime64, deadLetterId, deadLetterRow } from '../../io/warehouse/rows.js';
import type { Warehouse } from '../../io/warehouse/warehouse.js';
import { TOPICS, topicSpecs } from '../../pipelines/log-topics.js';
import { startWarehouseSink } from '../../pipelines/warehouse-sink.js';
import type { DeadLetter } from '../../schemas/types.gen.js';
import {
  ENGINE_LABELS,
  ENGINES,
  openTestWarehouse,
  type TestWarehouse,
} from '../support/clickhouse-server.js';

/**
 * Dead letters keyed by their identity (sql/015_dead_letter_identity.sql, rows.ts deadLetterId), on both
 * engines: an installation made before the key moves its rows over with the identity gridstream computes,
 * and a replay of the log (the same records read again by a sink that crashed before committing) or an MQTT
 * message redelivered after a crash leaves one row per dead letter under FINAL, while different dead letters
 * stay apart.
 */
const RECEIVED = Date.now() - 3_600_000;

const letter = (over: Partial<DeadLetter> = {}): DeadLetter => ({
  received_at: RECEIVED,
  source_topic: 'gridstream/v1/meters/m-17/telemetry',
  reason_code: 'invalid_json',
  reason: 'payload is not JSON: unexpected byte 0xff at offset 0',
  key: 'm-17',
  raw: Buffer.from([0xff, 0x00, 0x7b, 0x22, 0x0a]),
  source_partition: null,
  source_offset: null,
  ...over,
});

/** A dead letter's row as the tables before migration 015 took it (no identity, no partition or offset). */
function legacyRow(d: DeadLetter): Record<string, unknown> {
  const { received_at, source_topic, reason_code, reason, key, raw_base64 } = deadLetterRow(d);
  return { received_at, source_topic, reason_code, reason, key, raw_base64 };
}

describe.each(ENGINES)('dead letters on %s', (engine) => {
  const root = mkdtempSync(join(tmpdir(), 'gridstream-dead-letters-'));
  let opened: TestWarehouse;
  let warehouse: Warehouse;

  /** The dead letters as stored, one row per identity (FINAL), by received_at then identity. */
  const stored = () =>
    warehouse.query<Record<string, unknown>>(
      `SELECT dead_letter_id, source_topic, source_partition, source_offset, reason_code, key, hex(raw) AS raw_hex
       FROM dead_letters FINAL ORDER BY source_topic, reason_code, dead_letter_id`,
    );

  beforeAll(async () => {
    opened = await openTestWarehouse(engine);
    warehouse = opened.warehouse;
  }, 120_000);
  afterAll(async () => {
    await opened?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it(`moves an existing installation's dead letters to the identity key (${ENGINE_LABELS[engine]})`, async () => {
    // The migrations before 015, as an installation made before it has them.
    const before = join(root, 'sql');
    cpSync(sqlDir, before, { recursive: true });
    rmSync(join(before, '015_dead_letter_identity.sql'));
    await migrate(warehouse, { dir: before });
    const mqtt = letter();
    const undecodable = letter({
      source_topic: `${TOPICS.dispatches.name}[1]@5`,
      source_partition: 1,
      source_offset: 5,
      reason_code: 'undecodable_record',
      reason: 'invalid union index',
      key: 'bess-1',
    });
    // The bug: the sink wrote the same undecodable record twice, stamped with the clock at each write.
    await warehouse.insert('dead_letters', [
      legacyRow(mqtt),
      legacyRow(undecodable),
      legacyRow({ ...undecodable, received_at: RECEIVED + 60_000 }),
      legacyRow(letter({ key: null, raw: Buffer.alloc(0), reason_code: 'schema' })),
    ]);

    expect((await migrate(warehouse)).applied).toEqual(['015_dead_letter_identity.sql']);
    const tables = await warehouse.query<{ name: string }>(
      `SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'dead_letters%'`,
    );
    expect(tables).toEqual([{ name: 'dead_letters' }]);
    // Each row has the identity gridstream computes for it (the column's DEFAULT and deadLetterId agree),
    // the undecodable record's partition and offset read from its source_topic, and its copy merged away.
    expect(await stored()).toEqual([
      {
        dead_letter_id: deadLetterId(undecodable),
        source_topic: undecodable.source_topic,
        source_partition: 1,
        source_offset: '5',
        reason_code: 'undecodable_record',
        key: 'bess-1',
        raw_hex: 'FF007B220A',
      },
      {
        dead_letter_id: deadLetterId(mqtt),
        source_topic: mqtt.source_topic,
        source_partition: null,
        source_offset: null,
        reason_code: 'invalid_json',
        key: 'm-17',
        raw_hex: 'FF007B220A',
      },
      {
        dead_letter_id: deadLetterId(letter({ key: null, raw: Buffer.alloc(0), reason_code: 'schema' })),
        source_topic: mqtt.source_topic,
        source_partition: null,
        source_offset: null,
        reason_code: 'schema',
        key: null,
        raw_hex: '',
      },
    ]);
  }, 120_000);

  it('keeps one row per dead letter through a replay of the log and a redelivery, two for two', async () => {
    await warehouse.command('TRUNCATE TABLE dead_letters');
    const mqtt = letter();
    // The broker redelivered the message after a crash: the same input, received (and stamped) again later.
    const redelivered = letter({ received_at: RECEIVED + 90_000 });
    const other = letter({ reason_code: 'schema', reason: 'p_kw: expected a number' });
    const run = async () => {
      // A fresh in-process log with the same records: the same partitions and offsets, as a sink that
      // crashed before committing reads them again (the log's append times differ, as after a restart).
      const log = new MemoryLog();
      await log.ensureTopics(topicSpecs(2));
      const sink = startWarehouseSink({ log, warehouse, metrics: createMetrics() });
      const producer = log.producer();
      await producer.send(TOPICS.deadLetters.name, [
        { key: 'm-17', value: encode('DeadLetter', mqtt) },
        { key: 'm-17', value: encode('DeadLetter', redelivered) },
        { key: 'm-17', value: encode('DeadLetter', other) },
      ]);
      await producer.send(TOPICS.dispatches.name, [{ key: 'bess-1', value: Buffer.from('not a dispatch') }]);
      await sink.stop();
      await log.close();
    };
    await run();
    await run();
    const rows = await stored();
    expect(rows.map((r) => [r.source_topic, r.reason_code])).toEqual([
      [expect.stringMatching(/^gridstream\.dispatches\[\d+\]@0$/), 'undecodable_record'],
      [mqtt.source_topic, 'invalid_json'],
      [mqtt.source_topic, 'schema'],
    ]);
    expect(rows[1]!.dead_letter_id).toBe(deadLetterId(mqtt));
    // The row of a dead letter carries the time in the record, whichever copy was kept.
    const [kept] = await warehouse.query<{ received_at: string }>(
      `SELECT toString(received_at) AS received_at FROM dead_letters FINAL WHERE dead_letter_id = {id:String}`,
      { id: deadLetterId(mqtt) },
    );
    expect([dateTime64(RECEIVED), dateTime64(RECEIVED + 90_000)]).toContain(kept!.received_at);
  }, 120_000);
});
