import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemasDir } from './paths.js';
import { avroType, type SchemaName } from './schemas.js';
import type {
  DeadLetter,
  DispatchCommand,
  DtEnvelope,
  ImpedanceDaily,
  ImpedanceFlag,
  MeterReading,
  TopologyMeter,
  TopologyTransformer,
  WeatherObservation,
} from '../schemas/types.gen.js';

/** Record types that travel on the log, by schema name. */
export interface LogRecordTypes {
  MeterReading: MeterReading;
  WeatherObservation: WeatherObservation;
  DispatchCommand: DispatchCommand;
  TopologyMeter: TopologyMeter;
  TopologyTransformer: TopologyTransformer;
  DtEnvelope: DtEnvelope;
  DeadLetter: DeadLetter;
  ImpedanceDaily: ImpedanceDaily;
  ImpedanceFlag: ImpedanceFlag;
}
export type LogSchemaName = keyof LogRecordTypes & SchemaName;

const catalogue = JSON.parse(readFileSync(join(schemasDir, 'catalogue.json'), 'utf8')) as {
  ids: Record<string, number>;
};
const MAGIC = 0;

export function schemaId(name: LogSchemaName): number {
  const id = catalogue.ids[name];
  if (id === undefined) throw new Error(`schema ${name} has no id in schemas/catalogue.json`);
  return id;
}

/** Avro binary in the Confluent wire format, so standard Kafka tooling can decode log records. */
export function encode<N extends LogSchemaName>(name: N, record: LogRecordTypes[N]): Buffer {
  const body = avroType(name).toBuffer(record);
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt8(MAGIC, 0);
  out.writeUInt32BE(schemaId(name), 1);
  body.copy(out, 5);
  return out;
}

export function decode<N extends LogSchemaName>(name: N, buffer: Buffer): LogRecordTypes[N] {
  if (buffer.length < 5 || buffer.readUInt8(0) !== MAGIC)
    throw new Error(`not a wire-format ${name} record: bad magic byte`);
  const id = buffer.readUInt32BE(1);
  if (id !== schemaId(name)) throw new Error(`expected schema id ${schemaId(name)} (${name}), got ${id}`);
  return avroType(name).fromBuffer(buffer.subarray(5)) as LogRecordTypes[N];
}
