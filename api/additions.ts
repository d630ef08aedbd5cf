import { isTimeZone, parseSchedule, type DailySchedule } from '../core/schedule.js';
import type { Addition, AdditionType } from '../processors/stress/hosting.js';
import { badRequest } from './errors.js';

/** A load or generator as a request names it (ADDITION in openapi.ts): the hosting and feeder routes take it. */
export interface RequestedAddition {
  type: AdditionType;
  kw: number;
  schedule?: string;
  mode?: 'charge' | 'discharge';
}

/**
 * The request's IANA time zone, or undefined when it names none (each DT's own zone then applies,
 * core/schedule.ts transformerTimeZone); 400 on `timezone` when it is unknown.
 */
export function timeZoneOf(value: string | undefined): string | undefined {
  if (value !== undefined && !isTimeZone(value))
    throw badRequest('timezone', `unknown IANA time zone ${JSON.stringify(value)}`);
  return value;
}

/** A daily window HH:MM-HH:MM; 400 on `field` when it does not parse. */
export function scheduleOf(text: string, field: string): DailySchedule {
  try {
    return parseSchedule(text);
  } catch (error) {
    throw badRequest(field, (error as Error).message);
  }
}

/** A requested addition as processors/stress/hosting.ts takes it; 400 on `${path}.mode` or `.schedule`. */
export function additionOf(a: RequestedAddition, path: string): Addition {
  if (a.mode !== undefined && a.type !== 'bess') throw badRequest(`${path}.mode`, 'is only for type bess');
  const schedule = a.schedule === undefined ? undefined : scheduleOf(a.schedule, `${path}.schedule`);
  return { type: a.type, kw: a.kw, schedule, mode: a.mode };
}
