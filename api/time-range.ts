import { DAY_MS } from '../core/time.js';
import { badRequest } from './errors.js';

/** The `days`, `from` and `to` query parameters of the DT time-series routes. */
export interface RangeQuery {
  days?: number;
  from?: string;
  to?: string;
}

/** Route-schema properties of those parameters (`days` at most the retention). */
export function rangeQuerySchema(retentionDays: number, defaults: { days: number; to: string }) {
  return {
    days: {
      type: 'integer',
      minimum: 1,
      maximum: retentionDays,
      description: `Days back from \`to\` (default ${defaults.days})`,
    },
    from: { type: 'string', format: 'date-time', description: 'Start, inclusive (ISO-8601); overrides days' },
    to: {
      type: 'string',
      format: 'date-time',
      description: `End, exclusive (ISO-8601); default ${defaults.to}`,
    },
  } as const;
}

/**
 * The [from, to) range in epoch ms a request asks for: `to` defaults to `defaultTo` (now, or a little after
 * for forecasts), `from` to `days` (default `defaultDays`) before it. 400 when reversed or longer than the
 * retention (nothing older is kept).
 */
export function requestedRange(
  query: RangeQuery,
  options: { retentionDays: number; defaultDays: number; defaultTo: number },
): { from: number; to: number } {
  const to = query.to ? Date.parse(query.to) : options.defaultTo;
  const from = query.from ? Date.parse(query.from) : to - (query.days ?? options.defaultDays) * DAY_MS;
  if (from >= to) throw badRequest('from', 'must be before to');
  if (to - from > options.retentionDays * DAY_MS)
    throw badRequest('from', `the range may span at most ${options.retentionDays} days`);
  return { from, to };
}

// Rounding is the serving stores' as much as the routes' (core/round.ts); the routes take it from here.
export { round } from '../core/round.js';
