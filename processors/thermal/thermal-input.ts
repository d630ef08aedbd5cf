import { parse as parseCsv } from 'csv-parse/sync';
import {
  COOLING_SET_NAMES,
  COOLING_SETS,
  ThermalModel,
  ThermalStates,
  type CoolingSet,
  type Paper,
  type ThermalConstants,
} from './thermal.js';

/**
 * The files of `gridstream thermal`: a transformer spec (JSON) and a load profile (CSV), checked with every
 * problem reported at once, naming the field or the line; and the run of the model over the profile. Pure:
 * text in, values out (bin/thermal.ts reads the files and writes the output).
 */

export class ThermalInputError extends Error {
  constructor(
    readonly what: 'spec' | 'profile',
    readonly problems: string[],
  ) {
    super(
      `invalid thermal ${what}:\n  ${problems.slice(0, 50).join('\n  ')}${problems.length > 50 ? `\n  … and ${problems.length - 50} more` : ''}`,
    );
  }
}

/** A checked spec: the constants (cooling set filled in), paper and initial state. */
export interface ThermalSpec {
  constants: ThermalConstants;
  paper: Paper;
  /** The standard constant set named by `cooling`, if any. */
  cooling: CoolingSet | null;
  initial_top_oil_c: number;
  initial_hot_spot_c: number;
}

type Check = (value: number) => string | null;

const positive: Check = (v) => (v > 0 ? null : 'must be > 0');
const nonNegative: Check = (v) => (v >= 0 ? null : 'must be >= 0');
const atLeastOne: Check = (v) =>
  v >= 1 ? null : 'must be >= 1 (1.0: no hot-spot overshoot; power transformers 1.3 to 2.0)';
const temperature: Check = (v) =>
  v >= -80 && v <= 250 ? null : 'must be a temperature from -80 to 250 °C (not kelvin)';

/**
 * The spec's numeric fields, as a typed validator: each is a JSON number that passes its check. The
 * constants may be left out when `cooling` names a set that supplies them.
 */
export const SPEC_FIELDS: Readonly<Record<keyof ThermalConstants, { doc: string; check: Check }>> = {
  top_oil_rise_k: { doc: 'Δθor, top-oil rise over ambient at rated load, K', check: positive },
  hot_spot_gradient_k: { doc: 'Hgr, hot-spot-to-top-oil gradient at rated current, K', check: nonNegative },
  loss_ratio: { doc: 'R, load losses at rated current / no-load losses', check: nonNegative },
  oil_exponent_x: { doc: 'x, oil exponent', check: positive },
  winding_exponent_y: { doc: 'y, winding exponent', check: positive },
  k11: { doc: 'thermal model constant k11', check: positive },
  k21: { doc: 'thermal model constant k21', check: atLeastOne },
  k22: { doc: 'thermal model constant k22', check: positive },
  tau_oil_min: { doc: 'τo, oil time constant, minutes', check: positive },
  tau_winding_min: { doc: 'τw, winding time constant, minutes', check: positive },
};

const COOLING_HINTS: Record<string, string> = {
  ONAN: ' (distribution-ONAN for a distribution transformer, power-ONAN for a medium or large power transformer)',
  ONAF: ' (power-ONAF: the standard has ONAF constants for power transformers only)',
};

const CONSTANT_FIELDS = Object.keys(SPEC_FIELDS) as (keyof ThermalConstants)[];
const OTHER_FIELDS = ['initial_top_oil_c', 'initial_hot_spot_c', 'paper', 'cooling'];

/** Parses and checks a spec file's text; throws ThermalInputError naming every bad or missing field. */
export function parseThermalSpec(text: string, source = 'spec'): ThermalSpec {
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new ThermalInputError('spec', [`${source}: not JSON: ${(error as Error).message}`]);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new ThermalInputError('spec', [`${source}: expected a JSON object of transformer constants`]);
  const doc = json as Record<string, unknown>;
  const problems: string[] = [];
  const problem = (field: string, text: string) => problems.push(`${source}: ${field}: ${text}`);

  for (const field of Object.keys(doc))
    if (!(CONSTANT_FIELDS as string[]).includes(field) && !OTHER_FIELDS.includes(field))
      problem(field, 'unknown field');

  let cooling: CoolingSet | null = null;
  if (doc.cooling !== undefined) {
    if (typeof doc.cooling === 'string' && (COOLING_SET_NAMES as string[]).includes(doc.cooling))
      cooling = doc.cooling as CoolingSet;
    else
      problem(
        'cooling',
        `must be one of ${COOLING_SET_NAMES.join(', ')}, got ${JSON.stringify(doc.cooling)}${COOLING_HINTS[String(doc.cooling)] ?? ''}`,
      );
  }
  let paper: Paper = 'normal';
  if (doc.paper !== undefined) {
    if (doc.paper === 'normal' || doc.paper === 'upgraded') paper = doc.paper;
    else problem('paper', `must be "normal" or "upgraded", got ${JSON.stringify(doc.paper)}`);
  }

  const number = (field: string, check: Check): number | undefined => {
    const value = doc[field];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      problem(field, `expected a number, got ${JSON.stringify(value)}`);
      return undefined;
    }
    const bad = check(value);
    if (bad) {
      problem(field, `${bad}, got ${value}`);
      return undefined;
    }
    return value;
  };

  const constants = {} as ThermalConstants;
  const defaults = cooling ? COOLING_SETS[cooling] : undefined;
  for (const field of CONSTANT_FIELDS) {
    if (doc[field] === undefined && defaults) constants[field] = defaults[field];
    else if (doc[field] === undefined && doc.cooling !== undefined)
      constants[field] = NaN; // cooling is wrong: said above
    else if (doc[field] === undefined)
      problem(field, `missing (give it, or "cooling": one of ${COOLING_SET_NAMES.join(', ')})`);
    else constants[field] = number(field, SPEC_FIELDS[field].check) ?? NaN;
  }

  let topOil = NaN;
  if (doc.initial_top_oil_c === undefined) problem('initial_top_oil_c', 'missing');
  else topOil = number('initial_top_oil_c', temperature) ?? NaN;
  let hotSpot = topOil;
  if (doc.initial_hot_spot_c !== undefined) {
    hotSpot = number('initial_hot_spot_c', temperature) ?? NaN;
    if (hotSpot < topOil)
      problem(
        'initial_hot_spot_c',
        `${hotSpot} is below initial_top_oil_c (${topOil}); the hot spot is the hottest point`,
      );
  }

  if (problems.length) throw new ThermalInputError('spec', problems);
  return { constants, paper, cooling, initial_top_oil_c: topOil, initial_hot_spot_c: hotSpot };
}

/** A load profile, by column: row 0 is the initial instant; row r's load and ambient hold over (r−1, r]. */
export interface ThermalProfile {
  minute: Float64Array;
  load_factor: Float64Array;
  ambient_c: Float64Array;
}

export const PROFILE_COLUMNS = ['minute', 'load_factor', 'ambient_c'] as const;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses and checks a profile CSV; throws ThermalInputError naming every bad line and field. */
export function parseThermalProfile(text: string, source = 'profile'): ThermalProfile {
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true, info: true });
  } catch (error) {
    throw new ThermalInputError('profile', [`${source}: not valid CSV: ${(error as Error).message}`]);
  }
  const header = firstLine(text);
  const missing = PROFILE_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length)
    throw new ThermalInputError('profile', [
      `${source} line 1: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (the header is ${PROFILE_COLUMNS.join(',')})`,
    ]);
  if (rows.length === 0)
    throw new ThermalInputError('profile', [
      `${source}: no rows after the header (the first row is the initial instant)`,
    ]);

  const n = rows.length;
  const profile: ThermalProfile = {
    minute: new Float64Array(n),
    load_factor: new Float64Array(n),
    ambient_c: new Float64Array(n),
  };
  const problems: string[] = [];
  rows.forEach(({ record, info }, r) => {
    const where = `${source} line ${info.lines}`;
    const cell = (column: (typeof PROFILE_COLUMNS)[number], check: Check): number => {
      const raw = record[column] ?? '';
      if (!NUMBER.test(raw)) {
        problems.push(`${where}: ${column}: expected a number, got ${JSON.stringify(raw)}`);
        return NaN;
      }
      const value = Number(raw);
      const bad = check(value);
      if (bad) problems.push(`${where}: ${column}: ${bad}, got ${raw}`);
      return bad ? NaN : value;
    };
    const minute = cell('minute', () => null);
    const previous = r > 0 ? profile.minute[r - 1]! : NaN;
    if (r > 0 && minute <= previous)
      problems.push(`${where}: minute: ${minute} is not after the previous row's ${previous}`);
    profile.minute[r] = minute;
    profile.load_factor[r] = cell('load_factor', (v) =>
      v >= 0 && v <= 10 ? null : 'must be a per-unit load factor from 0 to 10 (load / rated)',
    );
    profile.ambient_c[r] = cell('ambient_c', (v) =>
      v >= -80 && v <= 80 ? null : 'must be an air temperature from -80 to 80 °C',
    );
  });
  if (problems.length) throw new ThermalInputError('profile', problems);
  return profile;
}

function firstLine(text: string): string[] {
  const line = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  return line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
}

/** The model's answer at every profile row, by column; row 0 is the initial state. */
export interface ThermalRun {
  minute: Float64Array;
  top_oil_c: Float64Array;
  hot_spot_c: Float64Array;
  ageing_rate: Float64Array;
  /** ∫V dt over the whole profile, minutes at the reference ageing rate. */
  loss_of_life_min: number;
  /** Highest hot spot at sub-step resolution (it can peak between rows) and when (the end of its interval). */
  peak_hot_spot_c: number;
  peak_minute: number;
}

/** Runs the spec's transformer over the profile. */
export function runThermalProfile(spec: ThermalSpec, profile: ThermalProfile): ThermalRun {
  const model = new ThermalModel(spec.constants, { paper: spec.paper });
  const states = new ThermalStates(1);
  model.init(states, 0, spec.initial_top_oil_c, spec.initial_hot_spot_c);
  const n = profile.minute.length;
  const run: ThermalRun = {
    minute: profile.minute,
    top_oil_c: new Float64Array(n),
    hot_spot_c: new Float64Array(n),
    ageing_rate: new Float64Array(n),
    loss_of_life_min: 0,
    peak_hot_spot_c: spec.initial_hot_spot_c,
    peak_minute: profile.minute[0]!,
  };
  for (let r = 0; r < n; r++) {
    if (r > 0) {
      model.advance(
        states,
        0,
        profile.load_factor[r]!,
        profile.ambient_c[r]!,
        profile.minute[r]! - profile.minute[r - 1]!,
      );
      if (states.peakHotSpotC(0) > run.peak_hot_spot_c) {
        run.peak_hot_spot_c = states.peakHotSpotC(0);
        run.peak_minute = profile.minute[r]!;
      }
    }
    run.top_oil_c[r] = states.topOilC(0);
    run.hot_spot_c[r] = states.hotSpotC(0);
    run.ageing_rate[r] = states.ageingRate(0);
  }
  run.loss_of_life_min = states.lossOfLifeMin(0);
  return run;
}

export const OUTPUT_HEADER = 'minute,top_oil_c,hot_spot_c,ageing_rate';

/** The output CSV, in chunks of lines (each ending with a newline), header first. */
export function* thermalCsv(run: ThermalRun, chunkRows = 10_000): Generator<string> {
  yield `${OUTPUT_HEADER}\n`;
  const lines: string[] = [];
  for (let r = 0; r < run.minute.length; r++) {
    lines.push(
      `${run.minute[r]},${run.top_oil_c[r]!.toFixed(3)},${run.hot_spot_c[r]!.toFixed(3)},${Number(run.ageing_rate[r]!.toPrecision(6))}`,
    );
    if (lines.length === chunkRows) {
      yield `${lines.join('\n')}\n`;
      lines.length = 0;
    }
  }
  if (lines.length) yield `${lines.join('\n')}\n`;
}
