import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONSOLE_TYPES, consoleTypes } from '../../scripts/console-types.js';

describe("the console's API types", () => {
  it('console/src/api.gen.ts is what openapi-typescript makes of the OpenAPI document (run `npm run gen:console-types` after a change)', async () => {
    expect(readFileSync(CONSOLE_TYPES, 'utf8'), 'stale: run `npm run gen:console-types`').toBe(
      await consoleTypes(),
    );
  });
});
