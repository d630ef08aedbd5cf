import avro from 'avsc';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMeterReadingsBody } from './meter-readings-decoder.js';
import { schemasDir } from './paths.js';
import { avroType, type SchemaName } from './schemas.js';
import type {
  DeadLetter,
  DispatchCheck,
  DispatchCommand,
  DtEnvelope,
  DtOperatingEnvelope,
  DtOperatingEnvelopes,
  DtStress,
  FlexEventCommand,
  FlexEventLifecycle,
  ImpedanceDaily,
  ImpedanceFlag,
  MeterReading,
  MeterReadings,
  TopologyAsset,
  TopologyMeter,
  TopologyTransformer,
  WeatherObservation,
} from '../schemas/types.gen.js';

/** Record types that travel on the log, by schema name. */
export interface LogRecordTypes {
  MeterReading: MeterReading;
  MeterReadings: MeterReadings;
  WeatherObservation: WeatherObservation;
  DispatchCommand: DispatchCommand;
  TopologyMeter: TopologyMeter;
  TopologyTransformer: TopologyTransformer;
  DtEnvelope: DtEnvelope;
  DeadLetter: DeadLetter;
  ImpedanceDaily: ImpedanceDaily;
  ImpedanceFlag: ImpedanceFlag;
  DtStress: DtStress;
  DtOperatingEnvelope: DtOperatingEnvelope;
  DtOperatingEnvelopes: DtOperatingEnvelopes;
  TopologyAsset: TopologyAsset;
  DispatchCheck: DispatchCheck;
  FlexEventCommand: FlexEventCommand;
  FlexEventLifecycle: FlexEventLifecycle;
}
export type LogSchemaName = keyof LogRecordTypes & SchemaName;

const catalogue = JSON.parse(readFileSync(join(schemasDir, 'catalogue.json'), 'utf8')) as {
  ids: Record<string, number>;
  retired?: Record<string, { name: string; schema: string }>;
};
const MAGIC = 0;

export function schemaId(name: LogSchemaName): number {
  const id = catalogue.ids[name];
  if (id === undefined) throw new Error(`schema ${name} has no id in schemas/catalogue.json`);
  return id;
}

/**
 * Records this process encoded, by the buffer they became. On the in-process log the same Buffer reaches every
 * consumer, which then gets the record back without decoding it again (Kafka consumers get fresh buffers and
 * decode). Weak, so an entry goes when the log drops the buffer. Decoded records are shared: never mutate one.
 */
const encoded = new WeakMap<Buffer, { name: LogSchemaName; record: unknown }>();
let remember = true;

/**
 * Whether encode() remembers its records for decode() (default on). A process whose records go to Kafka
 * turns it off: its consumers get fresh buffers, so the entry would never be used, and setting it is a good
 * part of what encoding costs a busy bridge (the weak map's upkeep falls on the garbage collector).
 */
export function rememberEncodedRecords(on: boolean): void {
  remember = on;
}

/** Reused for the Avro body, so encoding allocates only the record's own buffer. */
let scratch = Buffer.allocUnsafe(64 * 1024);

/** Avro binary in the Confluent wire format, so standard Kafka tooling can decode log records. */
export function encode<N extends LogSchemaName>(name: N, record: LogRecordTypes[N]): Buffer {
  const type = avroType(name);
  let end = type.encode(record, scratch, 5);
  if (end < 0) {
    // Too small by -end bytes: grow (rarely; the largest records are dead letters with their raw payload).
    scratch = Buffer.allocUnsafe(Math.max(2 * scratch.length, scratch.length - end));
    end = type.encode(record, scratch, 5);
  }
  scratch.writeUInt8(MAGIC, 0);
  scratch.writeUInt32BE(schemaId(name), 1);
  const out = Buffer.allocUnsafe(end);
  scratch.copy(out, 0, 0, end);
  if (remember) encoded.set(out, { name, record });
  return out;
}

/** The schema id of a wire-format record, or undefined when it has no wire-format header. */
function schemaIdOf(buffer: Buffer): number | undefined {
  return buffer.length >= 5 && buffer.readUInt8(0) === MAGIC ? buffer.readUInt32BE(1) : undefined;
}

/**
 * The records of a topic that carries batches (several records in one, as a producer writes them) and, from
 * other producers, single records: which one a record is, its schema id says.
 */
export function decodeBatched<S extends LogSchemaName, B extends LogSchemaName>(
  single: S,
  batch: B,
  items: (batch: LogRecordTypes[B]) => ReadonlyArray<LogRecordTypes[S]>,
  buffer: Buffer,
): ReadonlyArray<LogRecordTypes[S]> {
  const id = schemaIdOf(buffer);
  const isBatch = id === schemaId(batch) || catalogue.retired?.[String(id)]?.name === batch;
  return isBatch ? items(decode(batch, buffer)) : [decode(single, buffer)];
}

export function decode<N extends LogSchemaName>(name: N, buffer: Buffer): LogRecordTypes[N] {
  const known = encoded.get(buffer);
  if (known !== undefined && known.name === name) return known.record as LogRecordTypes[N];
  if (buffer.length < 5 || buffer.readUInt8(0) !== MAGIC)
    throw new Error(`not a wire-format ${name} record: bad magic byte`);
  const id = buffer.readUInt32BE(1);
  if (id === schemaId(name)) {
    const byHand = HAND_DECODED[name]?.(buffer, 5);
    if (byHand !== undefined) return byHand as LogRecordTypes[N];
    return avroType(name).fromBuffer(buffer.subarray(5)) as LogRecordTypes[N];
  }
  const resolver = retiredResolver(name, id);
  if (!resolver) throw new Error(`expected schema id ${schemaId(name)} (${name}), got ${id}`);
  return avroType(name).fromBuffer(buffer.subarray(5), resolver) as LogRecordTypes[N];
}

/**
 * Hot records decoded by hand in the current version of their schema, as avsc would (undefined: left to avsc):
 * an upload of readings, tens of thousands a second into the processor (core/meter-readings-decoder.ts).
 */
const HAND_DECODED: Partial<Record<LogSchemaName, (buffer: Buffer, start: number) => unknown>> = {
  MeterReadings: decodeMeterReadingsBody,
};

const resolvers = new Map<number, avro.Resolver>();

/**
 * How a record written with an earlier version of `name` (a retired id) reads as the current version: Avro
 * schema resolution (added fields take their defaults). Undefined for an id that is not one of its versions.
 */
function retiredResolver(name: LogSchemaName, id: number): avro.Resolver | undefined {
  const retired = catalogue.retired?.[String(id)];
  if (retired?.name !== name) return undefined;
  let resolver = resolvers.get(id);
  if (!resolver) {
    const schema = JSON.parse(readFileSync(join(schemasDir, retired.schema), 'utf8')) as avro.Schema;
    const writer = avro.Type.forSchema(schema, { wrapUnions: 'auto' });
    resolver = avroType(name).createResolver(writer);
    resolvers.set(id, resolver);
  }
  return resolver;
}
