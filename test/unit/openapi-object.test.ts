import { describe, expect, it } from 'vitest';
import { object } from '../../api/openapi.js';

describe('object() of api/openapi.ts', () => {
  const properties = { id: { type: 'string' }, note: { type: 'string' }, size: { type: 'integer' } } as const;

  it('requires every property, in their order, unless optional names it', () => {
    expect(object(properties)).toEqual({ type: 'object', required: ['id', 'note', 'size'], properties });
    expect(object(properties, { optional: ['note'] }).required).toEqual(['id', 'size']);
  });

  it('leaves required out when no property is (optional: true), as a hand-written schema would', () => {
    expect(object(properties, { optional: true })).toEqual({ type: 'object', properties });
    expect(object(properties, { optional: true })).not.toHaveProperty('required');
  });

  it('writes additionalProperties only when given, and admits null when nullable', () => {
    expect(object(properties)).not.toHaveProperty('additionalProperties');
    expect(object(properties, { additional: false }).additionalProperties).toBe(false);
    expect(object(properties, { additional: true }).additionalProperties).toBe(true);
    expect(object(properties, { nullable: true }).type).toEqual(['object', 'null']);
  });

  it('keeps the properties object itself, so their order (the serialised order) stays', () => {
    expect(Object.keys(object({ b: {}, a: {} }).properties)).toEqual(['b', 'a']);
    expect(object(properties).properties).toBe(properties);
  });
});
