import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, schemaId } from '../../core/codec.js';
import { packageRoot } from '../../core/paths.js';
import { canonicalSchema } from '../../core/schemas.js';
import { startKafka, type TestKafka } from '../support/kafka.js';
import { startTestGridstream } from '../support/test-gridstream.js';
import { oneDt } from '../support/topology.js';
import { sampleEnvelope } from '../support/records.js';

/** Apache Avro's own Java implementation (avro-tools from Maven Central), not gridstream's avsc. */
const avroTools = execFileSync(join(packageRoot, 'infra', 'avro', 'install.sh'))
  .toString()
  .trim();
const dir = mkdtempSync(join(tmpdir(), 'gridstream-avro-'));
const schemaFile = (name: 'DtEnvelope' | 'MeterReading' | 'MeterReadings') => {
  const file = join(dir, `${name}.avsc`);
  writeFileSync(file, canonicalSchema(name));
  return file;
};
const java = (args: string[], input?: Buffer | string) =>
  execFileSync('java', ['-jar', avroTools, ...args], { input, timeout: 60_000 });

describe('Avro interoperability with Apache Avro (Java)', () => {
  let kafka: TestKafka;
  let g: Awaited<ReturnType<typeof startTestGridstream>>;

  beforeAll(async () => {
    kafka = await startKafka();
    g = await startTestGridstream({ kafkaBrokers: kafka.brokers, partitions: 2 });
    await g.pipeline.loadTopology(oneDt('dt-java', ['m-java']), 'interop');
  }, 240_000);
  afterAll(async () => {
    await g?.stop();
    await kafka?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Java decodes what gridstream writes, field for field, and re-encodes the same bytes', () => {
    const envelope = sampleEnvelope;
    const body = encode('DtEnvelope', envelope).subarray(5);
    const json = JSON.parse(
      java(['fragtojson', '--schema-file', schemaFile('DtEnvelope'), '-'], body).toString(),
    );
    expect(json).toMatchObject({
      dt_id: 'dt-7',
      slot_start: envelope.slot_start,
      version: envelope.version,
      is_final: true,
      import_kwh: 3.4,
      q_mean_kvar: { double: 1.5 }, // Avro's JSON encoding names the union branch
      legs: [{ leg: 1, v_min: 226.1, v_mean: 230.2, v_max: 236 }],
      data_quality: 'ami_direct',
    });
    const again = java(['jsontofrag', '--schema-file', schemaFile('DtEnvelope'), '-'], JSON.stringify(json));
    expect(again.equals(body)).toBe(true);
  });

  /**
   * Encodes `value` (Avro JSON) with Java's avro-tools, frames it in the wire format and has kcat send it to
   * the readings topic as one message, keyed by DT id like gridstream's own records. Returns the Avro body.
   */
  const javaOnReadingsTopic = (schema: 'MeterReading' | 'MeterReadings', value: unknown): Buffer => {
    const body = java(['jsontofrag', '--schema-file', schemaFile(schema), '-'], JSON.stringify(value));
    const header = Buffer.alloc(5);
    header.writeUInt32BE(schemaId(schema), 1);
    const file = join(dir, `${schema}.bin`);
    writeFileSync(file, Buffer.concat([header, body]));
    execFileSync('kcat', ['-b', kafka.brokers, '-P', '-t', 'gridstream.readings', '-k', 'dt-java', file], {
      timeout: 30_000,
    });
    return body;
  };

  it('a reading Java encoded, put on the readings topic by kcat, is processed into an envelope', async () => {
    const ts = Date.UTC(2026, 6, 1, 9, 0);
    const reading = {
      meter_id: 'm-java',
      dt_id: 'dt-java',
      ts,
      p_kw: 4,
      q_kvar: null,
      legs: [{ leg: 1, v: 230, i: 17.4 }],
      e_imp_kwh: { double: 10.5 },
      e_exp_kwh: null,
      received_at: ts + 1000,
    };
    javaOnReadingsTopic('MeterReading', reading);
    await g.pipeline.settle();
    const rows = await g.edges.warehouse.query<{ readings: string; net_mean_kw: number }>(
      "SELECT readings, net_mean_kw FROM envelopes FINAL WHERE dt_id = 'dt-java'",
    );
    expect(rows).toEqual([{ readings: 1, net_mean_kw: 4 }]);
    const [stored] = await g.edges.warehouse.query<{ e_imp_kwh: number }>(
      "SELECT e_imp_kwh FROM readings WHERE meter_id = 'm-java'",
    );
    expect(stored!.e_imp_kwh).toBe(10.5);
  });

  it('an upload Java encodes as MeterReadings, put on the readings topic by kcat, is processed reading by reading', async () => {
    const ts = Date.UTC(2026, 6, 1, 10, 0);
    const reading = (minute: number, p_kw: number) => ({
      meter_id: 'm-java',
      dt_id: 'dt-java',
      ts: ts + minute * 60_000,
      p_kw,
      q_kvar: null,
      legs: [{ leg: 1, v: 231, i: 10 }],
      e_imp_kwh: null,
      e_exp_kwh: null,
      received_at: ts + 15 * 60_000,
    });
    const upload = { readings: [reading(0, 2), reading(1, 6)] };
    const body = javaOnReadingsTopic('MeterReadings', upload);
    // What the bridge would write for the same upload is the same bytes.
    expect(body.equals(encode('MeterReadings', upload).subarray(5))).toBe(true);
    await g.pipeline.settle();
    const rows = await g.edges.warehouse.query<{ readings: string; max_kw: number }>(
      "SELECT readings, max_kw FROM envelopes FINAL WHERE dt_id = 'dt-java' AND toString(slot_start) LIKE '2026-07-01 10:00:00%'",
    );
    expect(rows).toEqual([{ readings: 2, max_kw: 6 }]);
    const stored = await g.edges.warehouse.query<{ p_kw: number }>(
      "SELECT p_kw FROM readings WHERE meter_id = 'm-java' AND toString(ts) >= '2026-07-01 10:00' ORDER BY ts",
    );
    expect(stored.map((r) => r.p_kw)).toEqual([2, 6]);
  });
});
