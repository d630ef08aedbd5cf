import avro from 'avsc';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemasDir } from './paths.js';

/** Avro types of every schema in schemas/, by short record name (e.g. "MeterReading"). */
export type SchemaName =
  | 'TelemetryPayload'
  | 'WeatherPayload'
  | 'DispatchPayload'
  | 'MeterReading'
  | 'MeterReadings'
  | 'WeatherObservation'
  | 'DispatchCommand'
  | 'TopologyMeter'
  | 'TopologyTransformer'
  | 'DtEnvelope'
  | 'DeadLetter'
  | 'ImpedanceDaily'
  | 'ImpedanceFlag'
  | 'DtStress'
  | 'DtOperatingEnvelope'
  | 'DtOperatingEnvelopes'
  | 'TopologyAsset'
  | 'DispatchCheck'
  | 'FlexEventCommand'
  | 'FlexEventLifecycle';

function loadTypes(): Map<string, avro.Type> {
  const registry: Record<string, avro.Type> = {};
  const types = new Map<string, avro.Type>();
  for (const file of readdirSync(schemasDir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()) {
    const schema = JSON.parse(readFileSync(join(schemasDir, file), 'utf8')) as { name: string };
    // Timestamps stay plain epoch-millisecond numbers in JavaScript: cheaper than Date and lossless.
    const type = avro.Type.forSchema(schema as avro.Schema, { registry, wrapUnions: 'auto' });
    types.set(schema.name, type);
  }
  return types;
}

const types = loadTypes();

export function avroType(name: SchemaName): avro.Type {
  const type = types.get(name);
  if (!type) throw new Error(`no schema named ${name} in ${schemasDir}`);
  return type;
}

/** The canonical schema text of a type (what a schema registry stores and what the wire format's id names). */
export function canonicalSchema(name: SchemaName): string {
  return JSON.stringify(avroType(name).schema());
}

/**
 * Validates a decoded JSON value against an Avro type. Returns the problems found, each naming the field
 * path (e.g. "legs[0].v: expected double, got string"), or an empty list when the value conforms.
 */
export function validate(name: SchemaName, value: unknown): string[] {
  // Most input is valid: check without the error hook first, which is several times cheaper.
  if (avroType(name).isValid(value)) return [];
  const problems: string[] = [];
  avroType(name).isValid(value, {
    errorHook(path: string[], got: unknown, type: avro.Type) {
      const field = path.reduce(
        (acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
        '',
      );
      problems.push(
        `${field || '(root)'}: expected ${describe(type)}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}`,
      );
    },
  });
  return problems;
}

function describe(type: avro.Type): string {
  const schema = type.schema() as unknown;
  if (typeof schema === 'string') return schema;
  if (Array.isArray(schema))
    return schema.map((s) => (typeof s === 'string' ? s : (s as { type: string }).type)).join(' or ');
  const s = schema as { type: string; logicalType?: string };
  return s.logicalType ?? s.type;
}
