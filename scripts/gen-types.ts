/**
 * Generates schemas/types.gen.ts from schemas/*.avsc. The Avro schemas are the single source of truth for
 * record shapes; TypeScript types are derived from them here and never written by hand.
 * Run `npm run gen:types` after changing a schema; a unit test fails while the generated file is stale.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderTypes } from '../core/avro-typescript.js';
import { schemasDir } from '../core/paths.js';

writeFileSync(join(schemasDir, 'types.gen.ts'), renderTypes(schemasDir));
console.log('wrote schemas/types.gen.ts');
