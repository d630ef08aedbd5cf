import { LEGACY_BOOL_TYPE, type QueryParams } from './warehouse.js';

/**
 * Client-side binding of {name:Type} query parameters, for servers that cannot bind them (before 20.3;
 * Debian's 18.16). Current servers bind parameters themselves and never see this.
 *
 * Each placeholder outside string literals, quoted identifiers and comments becomes a literal of its declared
 * type, built from the value and never from SQL text: strings are quoted with every quote and backslash
 * escaped, numbers must be numbers of the type, and the literal is wrapped in CAST(... AS Type) so that it has
 * the placeholder's type, e.g.
 *
 *     dt_id = {dt_id:String}          ->  dt_id = CAST('dt-1\' OR 1=1' AS String)
 *     x IN {ids:Array(String)}        ->  x IN (CAST('a' AS String), CAST('b' AS String))
 *
 * The right-hand side of IN becomes a tuple because old servers refuse an array there (current servers read
 * `IN {ids:Array(T)}` as the set of its elements, so the results agree); an empty array becomes (NULL), which
 * matches nothing. After LIMIT and OFFSET an integer placeholder becomes a bare number (checked against its
 * type), since old servers accept nothing else there. Bool, which old servers lack, is bound as Enum8('false' = 0, 'true' = 1), the type that
 * stands in for it in gridstream's tables there. Substituted text is not scanned again, so a value that looks
 * like a placeholder stays data.
 */
export function bindParams(sql: string, params: QueryParams = {}): string {
  let out = '';
  let i = 0;
  let plainFrom = 0;
  const flushPlain = (to: number) => {
    out += sql.slice(plainFrom, to);
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === '`') {
      i = endOfQuoted(sql, i, c);
    } else if (c === '-' && sql[i + 1] === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? sql.length : eol + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new Error('unterminated /* comment in the query');
      i = end + 2;
    } else if (c === '{') {
      const match = PLACEHOLDER.exec(sql.slice(i));
      if (match === null) {
        i++;
        continue;
      }
      const [whole, name, type] = match as unknown as [string, string, string];
      if (!Object.hasOwn(params, name)) throw new Error(`query parameter ${name} (${type}) is not set`);
      flushPlain(i);
      const value = params[name] ?? null;
      const inSet = /\bIN\s*$/i.test(out) && /^Array\(/.test(type.trim());
      // Old servers take only a number after LIMIT and OFFSET, not an expression such as CAST(...).
      const count = /\b(LIMIT|OFFSET)\s*$/i.test(out) && INTEGER_RANGE[type.trim()] !== undefined;
      out += inSet
        ? tupleLiteral(value, type, name)
        : count
          ? literal(value, type.trim(), name)
          : typedLiteral(value, type.trim(), name);
      i += whole.length;
      plainFrom = i;
    } else {
      i++;
    }
  }
  flushPlain(sql.length);
  return out;
}

const PLACEHOLDER = /^\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([A-Za-z0-9_(), ']+?)\s*\}/;

/** Index just past the quoted string or identifier that starts at `start` (backslash or doubled-quote escapes). */
function endOfQuoted(sql: string, start: number, quote: string): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (sql[i] === '\\') i++;
    else if (sql[i] === quote) {
      if (sql[i + 1] === quote) i++;
      else return i + 1;
    }
  }
  throw new Error(`unterminated ${quote} quote in the query`);
}

type Value = QueryParams[string];

function tupleLiteral(value: Value, type: string, name: string): string {
  const element = unwrap(type.trim(), 'Array');
  if (element === undefined || !Array.isArray(value))
    throw new Error(`query parameter ${name} (${type}): expected an array, got ${describe(value)}`);
  if (value.length === 0) return '(NULL)';
  return '(' + value.map((v, k) => typedLiteral(v, element, `${name}[${k}]`)).join(', ') + ')';
}

/** A literal of `type` holding `value`, as CAST(literal AS type). */
export function typedLiteral(value: Value, type: string, name: string): string {
  return `CAST(${literal(value, type, name)} AS ${serverType(type)})`;
}

/**
 * The type as an old server spells it: it has no Bool, and Enum8('false' = 0, 'true' = 1) stands in, as in
 * gridstream's tables there (the server warehouse reads that type back as JSON booleans).
 */
function serverType(type: string): string {
  return type.replace(/\bBool\b/g, LEGACY_BOOL_TYPE);
}

function unwrap(type: string, wrapper: string): string | undefined {
  const match = new RegExp(`^${wrapper}\\((.*)\\)$`).exec(type);
  return match?.[1]?.trim();
}

const INTEGER_RANGE: Record<string, [bigint, bigint]> = {
  UInt8: [0n, 255n],
  UInt16: [0n, 65535n],
  UInt32: [0n, 4294967295n],
  UInt64: [0n, 18446744073709551615n],
  Int8: [-128n, 127n],
  Int16: [-32768n, 32767n],
  Int32: [-2147483648n, 2147483647n],
  Int64: [-9223372036854775808n, 9223372036854775807n],
};

function literal(value: Value, type: string, name: string): string {
  const fail = (expected: string): never => {
    throw new Error(`query parameter ${name} (${type}): expected ${expected}, got ${describe(value)}`);
  };
  const nullable = unwrap(type, 'Nullable');
  if (nullable !== undefined) return value === null ? 'NULL' : literal(value, nullable, name);
  if (value === null || value === undefined) return fail('a value (the type is not Nullable)');
  const lowCardinality = unwrap(type, 'LowCardinality');
  if (lowCardinality !== undefined) return literal(value, lowCardinality, name);
  const element = unwrap(type, 'Array');
  if (element !== undefined) {
    if (!Array.isArray(value)) return fail('an array');
    return '[' + value.map((v, k) => literal(v, element, `${name}[${k}]`)).join(', ') + ']';
  }
  if (Array.isArray(value)) return fail('a single value');
  const base = type.replace(/\(.*$/, '');
  const range = INTEGER_RANGE[base];
  if (range !== undefined) {
    const text = typeof value === 'number' ? (Number.isSafeInteger(value) ? String(value) : '') : value;
    if (typeof text !== 'string' || !/^-?\d+$/.test(text)) return fail('a whole number');
    const n = BigInt(text);
    if (n < range[0] || n > range[1]) return fail(`a whole number from ${range[0]} to ${range[1]}`);
    return n.toString();
  }
  if (base === 'Float32' || base === 'Float64' || base.startsWith('Decimal')) {
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (typeof value === 'string' && /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value)) return value;
    return fail('a finite number');
  }
  if (base === 'Bool') {
    if (typeof value === 'boolean') return quote(String(value));
    if (value === 0 || value === 1) return quote(String(value === 1));
    return fail('true or false');
  }
  if (base === 'Date') {
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return quote(value);
    return fail("a date 'YYYY-MM-DD'");
  }
  if (base === 'DateTime') {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value)) return quote(value);
    return fail("'YYYY-MM-DD hh:mm:ss' or epoch seconds");
  }
  if (['String', 'FixedString', 'UUID', 'Enum8', 'Enum16', 'IPv4', 'IPv6'].includes(base)) {
    if (typeof value === 'string') return quote(value);
    if (typeof value === 'number' && Number.isFinite(value)) return quote(String(value));
    return fail('a string');
  }
  throw new Error(`query parameter ${name}: type ${type} cannot be bound on this server`);
}

/** A ClickHouse string literal: backslash and quote escaped, and control characters that could end a line. */
export function quote(text: string): string {
  return (
    "'" +
    text.replace(/[\\'\0\n\r\t]/g, (c) => {
      switch (c) {
        case '\0':
          return '\\0';
        case '\n':
          return '\\n';
        case '\r':
          return '\\r';
        case '\t':
          return '\\t';
        default:
          return '\\' + c;
      }
    }) +
    "'"
  );
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? text.slice(0, 57) + '...' : text;
}
