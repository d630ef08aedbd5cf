/** Writes console/src/api.gen.ts (scripts/console-types.ts). Run `npm run gen:console-types` after a route changes. */
import { writeFileSync } from 'node:fs';
import { CONSOLE_TYPES, consoleTypes } from './console-types.js';

writeFileSync(CONSOLE_TYPES, await consoleTypes());
console.log(`wrote ${CONSOLE_TYPES}`);
