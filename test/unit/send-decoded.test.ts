import { describe, expect, it } from 'vitest';
import { decode } from '../../core/codec.js';
import { MemoryLog } from '../../io/log/memory-log.js';
import { sendDecoded, READINGS_PER_RECORD } from '../../pipelines/ingest-task.js';
import { TOPICS, topicSpecs } from '../../pipelines/log-topics.js';
import type { MeterReading } from '../../schemas/types.gen.js';

const reading = (meter_id: string, dt_id: string, ts: number): MeterReading => ({
  meter_id,
  dt_id,
  ts,
  p_kw: 1,
  q_kvar: null,
  legs: [{ leg: 1, v: 230, i: 4 }],
  e_imp_kwh: null,
  e_exp_kwh: null,
  received_at: ts,
});

/** Every record on the readings topic: its key and the meters and count of its readings. */
async function readingRecords(log: MemoryLog) {
  const consumer = log.consumer({ group: 'test', topics: [TOPICS.readings.name], fromBeginning: true });
  const records = await consumer.poll(10_000, 100);
  await consumer.close();
  return records
    .map((r) => {
      const { readings } = decode('MeterReadings', r.value);
      return { key: r.key, meters: [...new Set(readings.map((x) => x.meter_id))], n: readings.length };
    })
    .sort((a, b) => a.key.localeCompare(b.key) || b.n - a.n);
}

describe('sendDecoded', () => {
  it("keys a batch of several meters' readings by each meter's own DT, one record per meter", async () => {
    const log = new MemoryLog();
    await log.ensureTopics(topicSpecs(4));
    // The first reading's DT used to key the whole batch: m-2's readings went to dt-a's partition as dt-a's.
    const readings = [
      reading('m-1', 'dt-a', 1),
      reading('m-2', 'dt-b', 1),
      reading('m-1', 'dt-a', 2),
      reading('m-3', 'dt-b', 1),
    ];
    await sendDecoded(log.producer(), { readings, weather: [], dispatches: [], deadLetters: [] });
    expect(await readingRecords(log)).toEqual([
      { key: 'dt-a', meters: ['m-1'], n: 2 },
      { key: 'dt-b', meters: ['m-2'], n: 1 },
      { key: 'dt-b', meters: ['m-3'], n: 1 },
    ]);
    await log.close();
  });

  it(`cuts one meter's readings into records of at most ${READINGS_PER_RECORD}`, async () => {
    const log = new MemoryLog();
    await log.ensureTopics(topicSpecs(4));
    const readings = Array.from({ length: 2_500 }, (_, k) => reading('m-1', 'dt-a', k));
    await sendDecoded(log.producer(), { readings, weather: [], dispatches: [], deadLetters: [] });
    expect((await readingRecords(log)).map((r) => r.n)).toEqual([1_000, 1_000, 500]);
    await log.close();
  });
});
