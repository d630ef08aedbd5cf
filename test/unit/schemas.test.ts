import avro from 'avsc';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTypes } from '../../core/avro-typescript.js';
import { decode, decodeBatched, encode, schemaId } from '../../core/codec.js';
import { schemasDir } from '../../core/paths.js';
import { avroType } from '../../core/schemas.js';
import { decodeReadings } from '../../pipelines/readings-task.js';
import { operatingEnvelope, sampleEnvelope } from '../support/records.js';
import { transformer } from '../support/topology.js';

describe('schemas', () => {
  it('types.gen.ts is what the generator makes of the .avsc files (run `npm run gen:types` after a change)', () => {
    expect(readFileSync(join(schemasDir, 'types.gen.ts'), 'utf8')).toBe(renderTypes(schemasDir));
  });

  it('gives every log record type a distinct, permanent wire-format schema id', () => {
    const names = [
      'MeterReading',
      'WeatherObservation',
      'DispatchCommand',
      'TopologyMeter',
      'TopologyTransformer',
      'DtEnvelope',
      'DeadLetter',
      'MeterReadings',
      'DtOperatingEnvelopes',
    ] as const;
    const ids = names.map(schemaId);
    expect(new Set(ids).size).toBe(names.length);
  });

  it('encodes in the Confluent wire format: magic 0, big-endian schema id, Avro binary', () => {
    const envelope = sampleEnvelope;
    const bytes = encode('DtEnvelope', envelope);
    expect(bytes[0]).toBe(0);
    expect(bytes.readUInt32BE(1)).toBe(schemaId('DtEnvelope'));
    expect(avroType('DtEnvelope').fromBuffer(bytes.subarray(5))).toEqual(envelope);
    expect(decode('DtEnvelope', bytes)).toEqual(envelope);
  });

  it('refuses to decode a record of another schema or without the magic byte', () => {
    const reading = encode('WeatherObservation', { station_id: 's', ts: 0, ambient_c: 20, received_at: 0 });
    expect(() => decode('DtEnvelope', reading)).toThrow(/expected schema id/);
    expect(() => decode('WeatherObservation', Buffer.from([1, 0, 0, 0, 2]))).toThrow(/magic byte/);
  });

  it('reads the readings topic in both shapes: an upload (MeterReadings) and a single MeterReading', () => {
    const reading = (minute: number) => ({
      meter_id: 'm-1',
      dt_id: 'dt-1',
      ts: Date.UTC(2026, 6, 1, 10, minute),
      p_kw: minute / 10,
      q_kvar: minute % 2 ? null : 0.25,
      legs: [{ leg: 1, v: 230 + minute, i: 4 }],
      e_imp_kwh: null,
      e_exp_kwh: minute === 3 ? 12.5 : null,
      received_at: Date.UTC(2026, 6, 1, 10, 15),
    });
    const upload = Array.from({ length: 15 }, (_, minute) => reading(minute));
    const batch = encode('MeterReadings', { readings: upload });
    expect(batch.readUInt32BE(1)).toBe(schemaId('MeterReadings'));
    expect(decodeReadings(batch)).toEqual(upload);
    // Fresh bytes (as a Kafka consumer gets them), not the buffer this process encoded.
    expect(decodeReadings(Buffer.from(batch))).toEqual(upload);
    expect(decodeReadings(Buffer.from(encode('MeterReading', reading(7))))).toEqual([reading(7)]);
    expect(() => decodeReadings(Buffer.from(encode('DtEnvelope', sampleEnvelope)))).toThrow(
      /expected schema id/,
    );
    expect(() => decodeReadings(Buffer.from('{"p_kw":1}'))).toThrow(/magic byte/);
  });

  it("reads the operating-envelopes topic in both shapes: an issue's slots (DtOperatingEnvelopes) and one slot", () => {
    const issuedAt = Date.UTC(2026, 6, 1, 10, 15);
    const slots = Array.from({ length: 96 }, (_, j) =>
      operatingEnvelope('dt-1', issuedAt + j * 900_000, issuedAt, {
        voltage_stress_prob: j % 2 ? 0.2 : null,
      }),
    );
    const of = (buffer: Buffer) =>
      decodeBatched('DtOperatingEnvelope', 'DtOperatingEnvelopes', (issue) => issue.slots, buffer);
    const issue = encode('DtOperatingEnvelopes', { slots });
    expect(issue.readUInt32BE(1)).toBe(schemaId('DtOperatingEnvelopes'));
    expect(of(Buffer.from(issue))).toEqual(slots);
    expect(of(Buffer.from(encode('DtOperatingEnvelope', slots[5]!)))).toEqual([slots[5]]);
    expect(() => of(Buffer.from(encode('DtEnvelope', sampleEnvelope)))).toThrow(/expected schema id/);
  });

  it('keeps every retired schema whole (its named types defined in it, as the decoder reads it alone) and readable as the current version', () => {
    const catalogue = JSON.parse(readFileSync(join(schemasDir, 'catalogue.json'), 'utf8')) as {
      ids: Record<string, number>;
      retired: Record<string, { name: string; schema: string }>;
    };
    for (const [id, { name, schema }] of Object.entries(catalogue.retired)) {
      const writer = avro.Type.forSchema(
        JSON.parse(readFileSync(join(schemasDir, schema), 'utf8')) as avro.Schema,
        { wrapUnions: 'auto' },
      );
      expect(() => avroType(name as never).createResolver(writer), `retired id ${id}`).not.toThrow();
      expect(Object.values(catalogue.ids), `retired id ${id} is not reused`).not.toContain(Number(id));
    }
  });

  it('reads an issue written before the voltage distribution was recorded (retired ids 15 and 11), its tails null', () => {
    const retired = (file: string) =>
      avro.Type.forSchema(
        JSON.parse(readFileSync(join(schemasDir, 'retired', file), 'utf8')) as avro.Schema,
        {
          wrapUnions: 'auto',
        },
      );
    const current = [0, 1].map((j) =>
      operatingEnvelope('dt-1', 900_000 * (j + 1), 900_000, {
        v_min_mean: null,
        v_min_sd: null,
        v_max_mean: null,
        v_max_sd: null,
      }),
    );
    const old = current.map(
      ({ v_min_mean: _a, v_min_sd: _b, v_max_mean: _c, v_max_sd: _d, ...rest }) => rest,
    );
    const framed = (id: number, body: Buffer) => {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(id, 1);
      return Buffer.concat([header, body]);
    };
    const of = (buffer: Buffer) =>
      decodeBatched('DtOperatingEnvelope', 'DtOperatingEnvelopes', (issue) => issue.slots, buffer);
    expect(of(framed(15, retired('dt-operating-envelopes.15.avsc').toBuffer({ slots: old })))).toEqual(
      current,
    );
    expect(of(framed(11, retired('dt-operating-envelope.11.avsc').toBuffer(old[0])))).toEqual([current[0]]);
    expect(schemaId('DtOperatingEnvelopes')).not.toBe(15);
  });
});

describe('schema evolution', () => {
  it('reads a dead letter written with its retired schema (id 7) as the current version, new fields null', () => {
    const retired = avro.Type.forSchema(
      JSON.parse(readFileSync(join(schemasDir, 'retired', 'dead-letter.7.avsc'), 'utf8')) as avro.Schema,
      { wrapUnions: 'auto' },
    );
    const old = {
      received_at: 1_780_000_000_000,
      source_topic: 'gridstream/v1/meters/m-1/telemetry',
      reason_code: 'unknown_meter',
      reason: 'meter "m-1" is not in the topology; reading parked',
      key: 'm-1',
      raw: Buffer.from('{"ts":1}'),
    };
    const body = retired.toBuffer(old);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(7, 1);
    expect(decode('DeadLetter', Buffer.concat([header, body]))).toEqual({
      ...old,
      source_partition: null,
      source_offset: null,
    });
    expect(schemaId('DeadLetter')).not.toBe(7);
  });

  it('reads a transformer written with its retired schema (id 5) as the current version, timezone null', () => {
    const retired = avro.Type.forSchema(
      JSON.parse(
        readFileSync(join(schemasDir, 'retired', 'topology-transformer.5.avsc'), 'utf8'),
      ) as avro.Schema,
      { wrapUnions: 'auto' },
    );
    // The retired schema has every field but timezone.
    const { timezone: _, ...old } = { ...transformer('dt-1'), topology_version: 3 };
    const header = Buffer.alloc(5);
    header.writeUInt32BE(5, 1);
    expect(decode('TopologyTransformer', Buffer.concat([header, retired.toBuffer(old)]))).toEqual({
      ...old,
      timezone: null,
    });
    expect(schemaId('TopologyTransformer')).not.toBe(5);
  });

  it('reads a dispatch command written with its retired schema (id 3) as the current version', () => {
    const retired = avro.Type.forSchema(
      JSON.parse(readFileSync(join(schemasDir, 'retired', 'dispatch-command.3.avsc'), 'utf8')) as avro.Schema,
      { wrapUnions: 'auto' },
    );
    const old = {
      event_id: 'a7a26ff2-e851-45b6-9634-d595f45458b7',
      source: null,
      published_at: null,
      asset_id: 'bess-7',
      dispatch_time: 1_780_000_000_000,
      delivery_period_start: 1_780_000_900_000,
      target_power: { amount: '-1.250', unit: 'MW' as const },
      nominal_power: null,
      power_imbalance: null,
      soc_imbalance: { amount: '0.5', unit: 'kW' as const },
      received_at: 1_780_000_000_500,
    };
    const header = Buffer.alloc(5);
    header.writeUInt32BE(3, 1);
    expect(decode('DispatchCommand', Buffer.concat([header, retired.toBuffer(old)]))).toEqual({
      ...old,
      action: 'dispatch',
    });
    expect(schemaId('DispatchCommand')).not.toBe(3);
    // The current version carries energy units.
    const current = {
      ...old,
      soc_imbalance: { amount: '0.375', unit: 'MWh' as const },
      action: 'dispatch' as const,
    };
    expect(decode('DispatchCommand', encode('DispatchCommand', current))).toEqual(current);
  });

  it('reads a dispatch command written before the action (retired id 18) as a dispatch, and writes id 26', () => {
    const retired = avro.Type.forSchema(
      JSON.parse(
        readFileSync(join(schemasDir, 'retired', 'dispatch-command.18.avsc'), 'utf8'),
      ) as avro.Schema,
      { wrapUnions: 'auto' },
    );
    const old = {
      event_id: 'a7a26ff2-e851-45b6-9634-d595f45458b7',
      source: 'vpp',
      published_at: null,
      asset_id: 'bess-7',
      dispatch_time: 1_780_000_000_000,
      delivery_period_start: 1_780_000_900_000,
      target_power: { amount: '-1.250', unit: 'MW' as const },
      nominal_power: null,
      power_imbalance: null,
      soc_imbalance: { amount: '0.375', unit: 'MWh' as const },
      received_at: 1_780_000_000_500,
    };
    const header = Buffer.alloc(5);
    header.writeUInt32BE(18, 1);
    expect(decode('DispatchCommand', Buffer.concat([header, retired.toBuffer(old)]))).toEqual({
      ...old,
      action: 'dispatch',
    });
    expect(schemaId('DispatchCommand')).toBe(26);
    const cancel = { ...old, target_power: { amount: '0', unit: 'kW' as const }, action: 'cancel' as const };
    const written = encode('DispatchCommand', cancel);
    expect(written.readUInt32BE(1)).toBe(26);
    expect(decode('DispatchCommand', written)).toEqual(cancel);
  });
});
