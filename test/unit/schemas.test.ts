import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTypes } from '../../core/avro-typescript.js';
import { decode, encode, schemaId } from '../../core/codec.js';
import { schemasDir } from '../../core/paths.js';
import { avroType } from '../../core/schemas.js';
import { sampleEnvelope } from '../support/records.js';

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
});
