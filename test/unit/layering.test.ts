import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';

// The project's own eslint.config.js, as `npx eslint .` runs it.
const eslint = new ESLint({ cwd: packageRoot });

/** The layering messages eslint reports for `code` as if it were the file at `path` (nothing is written). */
async function layerViolations(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(packageRoot, path) });
  const fatal = result!.messages.filter((m) => m.fatal);
  if (fatal.length) throw new Error(`eslint could not parse the planted code: ${fatal[0]!.message}`);
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const importOf = (specifier: string) =>
  `import { planted } from '${specifier}';\nexport const uses = planted;\n`;

/** Per layer: a file in it, what its rule's message says, imports it must be refused and imports it may make. */
const LAYERS = [
  {
    file: 'processors/__planted.ts',
    rule: 'processors are pure: core/ and schemas/ only',
    forbidden: [
      '../io/log/log.js',
      '../pipelines/start-pipeline.js',
      '../api/server.js',
      '../app/start-gridstream.js',
      '../serving/load-profile-days.js',
      '../ingest/decode.js',
    ],
    allowed: ['../core/time.js', '../schemas/types.gen.js', './load-envelope/load-envelope.js'],
  },
  {
    file: 'processors/stress/__planted.ts',
    rule: 'processors are pure: core/ and schemas/ only',
    forbidden: ['../../io/log/log.js', '../../pipelines/start-pipeline.js', '../../ingest/decode.js'],
    allowed: ['./stress-math.js', '../thermal/thermal.js', '../alerts.js', '../../core/time.js'],
  },
  {
    file: 'core/__planted.ts',
    rule: 'core/ is the bottom: core/ and schemas/ only',
    forbidden: [
      '../io/warehouse/rows.js',
      '../processors/load-envelope/load-envelope.js',
      '../api/data-quality.js',
    ],
    allowed: ['./time.js', '../schemas/types.gen.js'],
  },
  {
    file: 'schemas/__planted.ts',
    rule: 'schemas/ is the bottom: it imports nothing of the project',
    forbidden: ['../core/time.js'],
    allowed: ['./types.gen.js'],
  },
  {
    file: 'ingest/__planted.ts',
    rule: 'ingest is pure MQTT decoding: core/ and schemas/ only',
    forbidden: ['../io/broker/broker.js', '../processors/load-envelope/load-envelope.js'],
    allowed: ['./decode.js', '../core/time.js', '../schemas/types.gen.js'],
  },
  {
    file: 'io/log/__planted.ts',
    rule: 'io/ is the edges: no processor, pipeline, serving store, api or app',
    forbidden: [
      '../../processors/load-envelope/load-envelope.js',
      '../../pipelines/start-pipeline.js',
      '../../api/server.js',
      '../../serving/load-profile-days.js',
      '../../app/start-gridstream.js',
    ],
    allowed: ['./log.js', '../warehouse/rows.js', '../../core/time.js', '../../ingest/decode.js'],
  },
  {
    file: 'serving/__planted.ts',
    rule: 'serving stores are below pipelines/ and api/: no pipeline, api or app',
    forbidden: [
      '../api/data-quality.js',
      '../pipelines/load-profile-days-task.js',
      '../app/start-gridstream.js',
    ],
    allowed: ['./load-profile-slot.js', '../core/data-quality.js', '../io/warehouse/rows.js'],
  },
  {
    file: 'pipelines/runtime/__planted.ts',
    rule: 'pipelines do not import the api or app',
    forbidden: ['../../api/server.js', '../../app/edges.js'],
    allowed: [
      '../start-pipeline.js',
      '../../serving/load-profile-days.js',
      '../../processors/load-envelope/load-envelope.js',
      '../../io/log/log.js',
    ],
  },
  {
    file: 'api/routes/__planted.ts',
    rule: 'the api does not import pipelines or app',
    forbidden: ['../../pipelines/start-pipeline.js', '../../app/start-gridstream.js'],
    allowed: [
      '../server.js',
      '../../serving/load-profile-days.js',
      '../../processors/load-envelope/load-envelope.js',
      '../../io/log/log.js',
    ],
  },
];

describe('layering (eslint no-restricted-imports)', () => {
  for (const layer of LAYERS) {
    it(`refuses in ${layer.file}: ${layer.forbidden.join(', ')}`, async () => {
      for (const specifier of layer.forbidden)
        expect(await layerViolations(layer.file, importOf(specifier)), specifier).toEqual([
          expect.stringContaining(layer.rule),
        ]);
    });

    it(`allows in ${layer.file}: ${layer.allowed.join(', ')}`, async () => {
      for (const specifier of layer.allowed)
        expect(await layerViolations(layer.file, importOf(specifier)), specifier).toEqual([]);
    });
  }

  it('refuses a type-only import and a re-export across a layer as well', async () => {
    const rule = 'pipelines do not import the api or app';
    expect(
      await layerViolations(
        'pipelines/__planted.ts',
        "import type { InMemory } from '../api/server.js';\nexport type T = InMemory;\n",
      ),
    ).toEqual([expect.stringContaining(rule)]);
    expect(
      await layerViolations('pipelines/__planted.ts', "export { buildApi } from '../api/server.js';\n"),
    ).toEqual([expect.stringContaining(rule)]);
  });
});

// Static and dynamic imports and re-exports of a relative module ('./x.js', '../y/z.js').
const IMPORT =
  /^\s*(?:import|export)\s[^;]*?\bfrom\s*['"](\.\.?\/[^'"]+)['"]|^\s*import\s*['"](\.\.?\/[^'"]+)['"]|\bimport\(\s*['"](\.\.?\/[^'"]+)['"]\s*\)/gm;
const SKIPPED = new Set(['node_modules', 'dist', 'data', '.local', '.git']);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIPPED.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every .ts file of the repository (paths relative to it) → the .ts files it imports relatively. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(packageRoot)) {
    const imports: string[] = [];
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      // ESM sources import './x.js' for ./x.ts.
      const target = resolve(dirname(file), (match[1] ?? match[2] ?? match[3])!.replace(/\.js$/, '.ts'));
      if (existsSync(target)) imports.push(relative(packageRoot, target));
    }
    graph.set(relative(packageRoot, file), imports);
  }
  return graph;
}

/** Each import cycle a depth-first search meets, as the files around it (the first repeated at the end). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string) => {
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) found.push([...path.slice(at), next]);
      else if (!done.has(next)) visit(next);
    }
    path.pop();
    done.add(file);
  };
  for (const file of graph.keys()) if (!done.has(file)) visit(file);
  return found;
}

describe('import cycles', () => {
  it('finds a planted cycle, of two files and of three', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['a.ts', 'c.ts']],
      ['c.ts', ['d.ts']],
      ['d.ts', ['e.ts']],
      ['e.ts', ['c.ts']],
    ]);
    expect(cycles(graph)).toEqual([
      ['a.ts', 'b.ts', 'a.ts'],
      ['c.ts', 'd.ts', 'e.ts', 'c.ts'],
    ]);
  });

  it('reads the imports of the repository (multi-line, type-only, re-exports, dynamic)', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(200);
    expect(graph.get('io/warehouse/rows.ts')).toContain('schemas/types.gen.ts'); // multi-line, type-only
    expect(graph.get('io/warehouse/rows.ts')).toContain('io/warehouse/row-binary.ts'); // type-only
    expect(graph.get('api/time-range.ts')).toContain('core/round.ts'); // re-export
    expect(graph.get('io/warehouse/open.ts')).toContain('io/warehouse/chdb-warehouse.ts'); // dynamic
  });

  it('none among the repository .ts files', () => {
    expect(cycles(importGraph()).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });
});
