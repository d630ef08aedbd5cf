#!/usr/bin/env node
import { Command } from 'commander';
import { startGridstream } from '../app/start-gridstream.js';
import { loadTopologyOffline } from '../app/offline-topology.js';
import { ConfigError, describeDefault, loadConfig, plainDoc, VARIABLES } from '../core/config.js';
import { applyHeapGrowth } from '../core/heap.js';
import { redactUrl } from '../core/redact.js';
import { readTopologyFiles, TopologyError } from '../core/topology.js';
import { migrate } from '../io/warehouse/migrate.js';
import { openWarehouse } from '../io/warehouse/open.js';
import { baselinesCommand } from './baselines.js';
import { calibrateCommand } from './calibrate.js';
import { integer, parseRoles, stopOnSignal } from './cli.js';
import { runDemo } from './demo.js';
import { mqttCommand } from './mqtt.js';
import { simulateCommand } from './simulate.js';
import { thermalCommand } from './thermal.js';

const program = new Command('gridstream')
  .description('Streaming analytics for low-voltage distribution grids')
  .showHelpAfterError()
  .addHelpText('after', ({ command, error }) => configurationHelp(command, error));

/**
 * The configuration variables, laid out and wrapped to the terminal as commander lays out options; where
 * that leaves too narrow a column beside the names (80 columns), each description goes under its name.
 */
function configurationHelp(command: Command, error: boolean): string {
  const output = command.configureOutput();
  const helper = command.createHelp();
  helper.prepareContext({ helpWidth: error ? output.getErrHelpWidth?.() : output.getOutHelpWidth?.() });
  const helpWidth = helper.helpWidth ?? 80;
  const width = Math.max(...Object.keys(VARIABLES).map((name) => name.length));
  const items = Object.entries(VARIABLES).map(([name, variable]) => {
    const unsaid = variable.fallback === undefined && variable.defaultDoc === undefined;
    const fallback = unsaid
      ? ''
      : ` (${variable.fallback === undefined ? '' : 'default '}${describeDefault(variable)})`;
    const text = plainDoc(variable.doc) + fallback;
    if (helpWidth - width - 4 >= helper.minWidthToWrap) return helper.formatItem(name, width, text, helper);
    return `  ${name}\n${helper.boxWrap(text, helpWidth - 6).replace(/^/gm, '      ')}`;
  });
  return `\nConfiguration (environment variables, or keys of a JSON file given with --config):\n${items.join('\n')}`;
}

program
  .command('demo')
  .description(
    'Embedded broker, log, ClickHouse, processors, API and a simulated feeder, all in this process',
  )
  .option('--config <file>', 'JSON config file')
  .option('--transformers <n>', 'simulated DTs', integer('--transformers', 1, 10_000), 5)
  .option('--meters <n>', 'meters per DT', integer('--meters', 1, 1_000), 40)
  .option('--days <n>', 'days of history to simulate before going live', integer('--days', 0, 400), 2)
  .option('--seed <n>', 'simulation seed', integer('--seed', 0), 1)
  .option('--no-follow', 'stop simulating once the history is published')
  .action((options) => {
    const config = loadConfig(process.env, options.config);
    applyHeapGrowth(config.heapGrowthPct, true);
    return runDemo({ ...options, config });
  });

program
  .command('run')
  .description('Run the pipeline and API on the configured edges (embedded for whatever is not configured)')
  .option('--config <file>', 'JSON config file')
  .option(
    '--role <roles>',
    'comma-separated roles to run: bridge (MQTT → log), processor (log → envelopes → warehouse), api; on Kafka each scales on its own',
    'bridge,processor,api',
  )
  .action(async (options) => {
    const config = loadConfig(process.env, options.config);
    const roles = parseRoles(options.role);
    const heapGrowth = applyHeapGrowth(config.heapGrowthPct, roles.includes('processor'));
    const gridstream = await startGridstream(config, { roles });
    const broker = gridstream.edges.broker ? `, MQTT ${redactUrl(gridstream.edges.broker.url)}` : '';
    console.log(
      `gridstream ${roles.join('+')} at ${gridstream.url} (log ${gridstream.edges.log.kind}${broker}, warehouse ${gridstream.edges.warehouse.kind}, heap growth ${heapGrowth ? `${heapGrowth}%` : "V8's own"})`,
    );
    if (roles.includes('api')) console.log(`console at ${gridstream.url}/ (enter an API key)`);
    if (gridstream.generatedApiKey && roles.includes('api'))
      console.log(`API key (generated; set GRIDSTREAM_API_KEYS to choose): ${gridstream.generatedApiKey}`);
    stopOnSignal(() => gridstream.stop());
  });

const topology = program.command('topology').description('Topology (CIS/GIS reference data)');
topology
  .command('load')
  .description(
    'Load transformers and meters from JSON or CSV files (or directories of them) as a new version',
  )
  .argument(
    '<files...>',
    'topology files: JSON {"transformers": [...], "meters": [...]}, or transformers.csv / meters.csv',
  )
  .option('--api <url>', 'load through a running gridstream API instead of writing the warehouse directly')
  .option('--api-key <key>', 'X-API-Key for --api (default: the first of GRIDSTREAM_API_KEYS)')
  .option('--config <file>', 'JSON config file')
  .action(async (files: string[], options) => {
    const file = readTopologyFiles(files);
    const source = files.join(',');
    let version: number;
    if (options.api) {
      const key = options.apiKey ?? process.env.GRIDSTREAM_API_KEYS?.split(',')[0]?.split(':')[0];
      const response = await fetch(new URL('/v1/topology', options.api), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key ?? '' },
        body: JSON.stringify(file),
      });
      const body = (await response.json()) as { version?: number; message?: string };
      if (!response.ok) throw new Error(`API refused the topology (${response.status}): ${body.message}`);
      version = body.version!;
    } else {
      version = await loadTopologyOffline(loadConfig(process.env, options.config), file, source);
    }
    console.log(
      `topology version ${version}: ${file.transformers.length} transformers, ${file.meters.length} meters`,
    );
  });

program
  .command('migrate')
  .description('Apply the warehouse migrations in sql/ (idempotent)')
  .option('--config <file>', 'JSON config file')
  .action(async (options) => {
    const config = loadConfig(process.env, options.config);
    const warehouse = await openWarehouse({ clickhouseUrl: config.clickhouseUrl, dataDir: config.dataDir });
    try {
      const result = await migrate(warehouse, { retentionDays: config.retentionDays });
      console.log(JSON.stringify(result));
    } finally {
      await warehouse.close();
    }
  });

simulateCommand(program);
mqttCommand(program);
thermalCommand(program);
calibrateCommand(program);
baselinesCommand(program);

program.parseAsync(process.argv).catch((error: Error) => {
  if (error instanceof ConfigError || error instanceof TopologyError)
    console.error(`gridstream: ${error.message}`);
  else console.error(`gridstream: ${error.stack ?? error.message}`);
  process.exit(1);
});
