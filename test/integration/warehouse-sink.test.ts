import { afterAll, describe, expect, it } from 'vitest';

import { encode } from '../../core/codec.js';
import { avroType } from '../../core/schemas.js';
import { createMetrics } from '../../core/metrics.js';
import { SLOT_MS, slotStart } from '../../core/time.js';
import { MemoryLog } from '../../io/log/memory-log.js';
import { migrate } from '../../io/warehouse/migrate.js';
import { dtOperatingEnvelopeRow } from '../../io/warehouse/rows.js';
import { TOPICS, topicSpecs } from '../../pipelines/log-topics.js';
import { startWarehouseSink } from '../../pipelines/warehouse-sink.js';
import type { DtOperatingEnvelope } from '../../schemas/types.gen.js';
import {
  ENGINES,
  ENGINE_LABELS,
  openTestWarehouse,
  type TestWarehouse,
} from '../support/clickhouse-server.js';
import { operatingEnvelope } from '../support/records.js';

const ISSUED = slotStart(Date.now()) - SLOT_MS;

/** Issues of three DTs, 96 slots each, varied in every field that can vary (nulls, enums, awkward floats). */
function issues(): DtOperatingEnvelope[][] {
  return ['dt-a', 'dt-b', "dt-'c'"].map((dt, d) =>
    Array.from({ length: 96 }, (_, k) =>
      operatingEnvelope(dt, ISSUED + (k + 1) * SLOT_MS, ISSUED, {
        // 47/7 and friends: 18.16 parses such JSON floats to within an ulp; RowBinary carries the double.
        base_kw: (47 + k) / 7,
        import_kw: k % 3 === 0 ? 0 : (k * d) / 3,
        voltage_stress_prob: k % 4 === 0 ? null : 1 / (k + 3),
        v_max_high: k % 5 === 0 ? 251.3 + k / 7 : null,
        import_limited_by: (['load_factor', 'hot_spot', 'top_oil', 'voltage'] as const)[k % 4]!,
        data_quality: (['ami_direct', 'ami_imputed', 'modelled_only'] as const)[(k + d) % 3]!,
      }),
    ),
  );
}

/** Every column the record has (the schema's fields), times as text: the whole row as the warehouse holds it. */
const FIELDS = (avroType('DtOperatingEnvelope') as unknown as { fields: Array<{ name: string }> }).fields.map(
  (f) => f.name,
);
const SELECT = `SELECT ${FIELDS.map((f) => (f === 'slot_start' || f === 'issued_at' ? `toString(${f}) AS ${f}` : f)).join(', ')}
  FROM dt_operating_envelopes FINAL ORDER BY dt_id, slot_start`;

describe.each(ENGINES)('the warehouse sink on %s', (engine) => {
  let opened: TestWarehouse | undefined;
  afterAll(async () => {
    await opened?.close();
  });

  it(`stores each operating envelope exactly as issued and dead-letters a record that does not decode (${ENGINE_LABELS[engine]})`, async () => {
    opened = await openTestWarehouse(engine);
    const { warehouse } = opened;
    await migrate(warehouse);
    const log = new MemoryLog();
    await log.ensureTopics(topicSpecs(2));
    // The sink first: the in-process log keeps records only for the groups subscribed.
    const sink = startWarehouseSink({ log, warehouse, metrics: createMetrics() });
    const producer = log.producer();
    const sent = issues();
    await producer.send(TOPICS.operatingEnvelopes.name, [
      ...sent.map((slots) => ({ key: slots[0]!.dt_id, value: encode('DtOperatingEnvelopes', { slots }) })),
      { key: 'dt-a', value: Buffer.from('not an issue') },
    ]);
    await sink.stop();
    await log.close();

    // The row the JSONEachRow path would insert (dtOperatingEnvelopeRow): times as text, tiers as labels.
    const expected = sent
      .flat()
      .map(dtOperatingEnvelopeRow)
      .sort((a, b) =>
        a.dt_id < b.dt_id ? -1 : a.dt_id > b.dt_id ? 1 : a.slot_start < b.slot_start ? -1 : 1,
      );
    const stored = await warehouse.query<Record<string, unknown>>(SELECT);
    // Every double as sent, to the bit: on the server (18.16) only RowBinary gives that.
    // (64-bit integers come back as JSON strings.)
    expect(stored.map((row) => ({ ...row, version: Number(row.version) }))).toEqual(expected);
    const dead = await warehouse.query<{ reason_code: string; source_topic: string }>(
      'SELECT reason_code, source_topic FROM dead_letters FINAL',
    );
    expect(dead).toEqual([
      {
        reason_code: 'undecodable_record',
        source_topic: expect.stringMatching(/^gridstream\.operating-envelopes\[/),
      },
    ]);
  });
});
