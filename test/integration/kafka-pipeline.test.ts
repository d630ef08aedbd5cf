import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaId } from '../../core/codec.js';
import { simulateTopology } from '../../simulator/command.js';
import { startKafka, type TestKafka } from '../support/kafka.js';
import { simulateInto, startTestGridstream } from '../support/test-gridstream.js';

type Running = Awaited<ReturnType<typeof startTestGridstream>>;

const START = Date.UTC(2026, 6, 1, 6);
const END = START + 6 * 3_600_000;

function readTruth(file: string) {
  const truth = new Map<string, { import_kwh: number; export_kwh: number }>();
  for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
    const [dt, slot, imp, exp] = line.split(',');
    truth.set(`${dt}|${Date.parse(slot!)}`, { import_kwh: Number(imp), export_kwh: Number(exp) });
  }
  return truth;
}

describe('the pipeline on Apache Kafka', () => {
  let kafka: TestKafka;
  let g: Running;
  let dir: string;
  let readings: number;

  beforeAll(async () => {
    kafka = await startKafka();
    dir = mkdtempSync(join(tmpdir(), 'gridstream-kafka-e2e-'));
    g = await startTestGridstream({ kafkaBrokers: kafka.brokers });
    const options = { seed: 3, transformers: 3, meters: 20 };
    await g.pipeline.loadTopology(simulateTopology(options), 'kafka e2e');
    const truthOut = join(dir, 'truth.csv');
    const result = await simulateInto(g, { ...options, start: START, end: END, truthOut, now: END }, 180_000);
    readings = result.readings;
  }, 400_000);

  afterAll(async () => {
    await g?.stop();
    await kafka?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores every reading once and writes envelopes that match the ground truth within 0.5%', async () => {
    expect(g.edges.log.kind).toBe('kafka');
    const [stored] = await g.edges.warehouse.query<{ n: string }>('SELECT count() AS n FROM readings FINAL');
    expect(Number(stored!.n)).toBe(readings);
    const truth = readTruth(join(dir, 'truth.csv'));
    const rows = await g.edges.warehouse.query<{
      dt_id: string;
      slot_ms: string;
      import_kwh: number;
      export_kwh: number;
    }>(
      'SELECT dt_id, toUnixTimestamp64Milli(slot_start) AS slot_ms, import_kwh, export_kwh FROM envelopes FINAL',
    );
    expect(rows).toHaveLength(truth.size);
    const off = rows.filter((r) => {
      const t = truth.get(`${r.dt_id}|${Number(r.slot_ms)}`)!;
      return (
        Math.abs(r.import_kwh - t.import_kwh) > 0.005 * t.import_kwh + 1e-6 ||
        Math.abs(r.export_kwh - t.export_kwh) > 0.005 * t.export_kwh + 1e-6
      );
    });
    expect(off).toEqual([]);
  });

  it('writes Avro in the Confluent wire format that kcat reads off the topic', async () => {
    const { execFileSync } = await import('node:child_process');
    /** The first envelope record on the topic, printed by kcat with `format`. */
    const first = (format: string) =>
      execFileSync(
        'kcat',
        [
          '-b',
          kafka.brokers,
          '-C',
          '-o',
          'beginning',
          '-t',
          'gridstream.envelopes',
          '-c',
          '1',
          '-e',
          '-f',
          format,
        ],
        {
          timeout: 30_000,
        },
      );
    const [key, size] = first('%k %S\\n').toString().trim().split(' ');
    expect(key).toMatch(/^dt-\d{4}$/);
    expect(Number(size)).toBeGreaterThan(5);
    const raw = first('%s');
    expect(raw[0]).toBe(0); // magic byte
    expect(raw.readUInt32BE(1)).toBe(schemaId('DtEnvelope')); // its id in schemas/catalogue.json
  });
});
