import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The layers (docs/architecture.md): core/ and schemas/ at the bottom; processors/ and ingest/ pure on top of
 * them; io/ the edges; serving/ the in-memory stores; pipelines/ run processors on the edges and feed the
 * stores; api/ reads the stores and the warehouse; app/ and bin/ compose it all. Each rule is a regex over a
 * relative import's specifier: `only` lists the top-level folders a layer may reach, `not` those it may not.
 * Every source file falls under at most one of these blocks: a later block setting no-restricted-imports for
 * the same file would replace its options, not add to them.
 */
const LAYERS = [
  {
    folder: 'schemas',
    only: ['schemas'],
    message: 'schemas/ is the bottom: it imports nothing of the project',
  },
  { folder: 'core', only: ['core', 'schemas'], message: 'core/ is the bottom: core/ and schemas/ only' },
  {
    folder: 'processors',
    only: ['core', 'schemas'],
    // processors/ is grouped by subject; a subject may use another's (stress/ steps thermal/'s model).
    subfolders: ['load-envelope', 'impedance', 'thermal', 'stress', 'flexibility'],
    message: 'processors are pure: core/ and schemas/ only',
  },
  {
    folder: 'ingest',
    only: ['core', 'schemas'],
    message: 'ingest is pure MQTT decoding: core/ and schemas/ only',
  },
  {
    folder: 'io',
    not: ['processors', 'pipelines', 'serving', 'api', 'app', 'bin'],
    message: 'io/ is the edges: no processor, pipeline, serving store, api or app',
  },
  {
    folder: 'serving',
    not: ['pipelines', 'api', 'app', 'bin'],
    message: 'serving stores are below pipelines/ and api/: no pipeline, api or app',
  },
  { folder: 'pipelines', not: ['api', 'app', 'bin'], message: 'pipelines do not import the api or app' },
  { folder: 'api', not: ['pipelines', 'app', 'bin'], message: 'the api does not import pipelines or app' },
];

const layerRule = ({ folder, only, subfolders = [], not, message }) => {
  // `(\.\./)+` climbs out of the file's folder; what follows is taken as the top-level folder reached, which
  // holds while an `only` layer lists its subfolders (a sibling subfolder reached from one of them is not a
  // top-level folder) and no layer has a subfolder named like a top-level one.
  const reached = only
    ? `(?!(${[folder, ...only, ...subfolders].join('|')})/)[^./][^/]*/`
    : `(${not.join('|')})/`;
  return {
    files: [`${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: `^(\\.\\./)+${reached}`, message }] }],
    },
  };
};

export default tseslint.config(
  { ignores: ['dist/**', 'data/**', '.local/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ['**/*.mjs', '**/*.js'], languageOptions: { globals: globals.node } },
  // The browser console (console/): bundled for the browser, it imports nothing of the server's layers.
  {
    files: ['console/**/*.{ts,tsx}'],
    languageOptions: { globals: globals.browser },
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\.\\./', message: 'the console talks to the API over HTTP only' }] },
      ],
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...LAYERS.map(layerRule),
);
