import type { Command } from 'commander';
import { runSimulate } from '../simulator/command.js';
import { integer } from './cli.js';

function share(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!(n >= 0 && n <= 1)) throw new Error(`${name} must be a fraction from 0 to 1`);
    return n;
  };
}

export function simulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('Simulate a feeder and publish its meters over MQTT like real meters, faster than real time')
    .option(
      '--mqtt-url <url>',
      'broker to publish to (credentials may be in it: mqtt://user:password@host:port)',
      process.env.GRIDSTREAM_MQTT_URL ?? 'mqtt://127.0.0.1:1883',
    )
    .option('--mqtt-username <user>', 'MQTT account: a head-end account publishes for every meter')
    .option(
      '--mqtt-password <password>',
      'its password (default: $GRIDSTREAM_SIMULATE_MQTT_PASSWORD, which stays out of the process list)',
    )
    .option('--seed <n>', 'everything random derives from it', integer('--seed', 0), 1)
    .option('--transformers <n>', 'DTs', integer('--transformers', 1, 9999), 5)
    .option('--meters <n>', 'meters per DT', integer('--meters', 1, 10_000), 40)
    .option('--feeders <n>', 'feeders, one weather station each', integer('--feeders', 1, 99), 1)
    .option('--days <n>', 'days to simulate, ending now (fractions allowed)', Number)
    .option('--start <time>', 'window start: ISO-8601, YYYY-MM-DD or epoch ms')
    .option('--end <time>', 'window end (exclusive)')
    .option('--interval-s <n>', 'reading interval, a multiple of 60', integer('--interval-s', 60), 60)
    .option('--ev-share <f>', 'share of meters with an EV', share('--ev-share'))
    .option('--pv-share <f>', 'share of meters with rooftop PV', share('--pv-share'))
    .option('--silent-share <f>', 'share of meters that go silent for hours', share('--silent-share'))
    .option(
      '--battery-share <f>',
      'share of meters with a behind-the-meter battery (topology asset)',
      share('--battery-share'),
    )
    .option('--no-backfill', 'silent meters lose their readings instead of sending them when back')
    .option('--speed <n>', '0 = as fast as possible, N = N× real time', Number, 0)
    .option('--follow', 'after reaching the present, keep publishing in real time')
    .option(
      '--topology-out <path>',
      'write the topology: a .json file, or a directory for transformers.csv and meters.csv; the LV networks beside it (lv-network.csv)',
    )
    .option('--truth-out <path>', 'write the ground truth (exact energy per DT per slot) as CSV')
    .option('--no-progress', 'no progress bar')
    .action(async (options) => {
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const result = await runSimulate({
        mqttUrl: options.mqttUrl,
        username: options.mqttUsername,
        password: options.mqttPassword ?? process.env.GRIDSTREAM_SIMULATE_MQTT_PASSWORD,
        seed: options.seed,
        transformers: options.transformers,
        meters: options.meters,
        feeders: options.feeders,
        days: options.days,
        start: options.start,
        end: options.end,
        intervalS: options.intervalS,
        evShare: options.evShare,
        pvShare: options.pvShare,
        silentShare: options.silentShare,
        batteryShare: options.batteryShare,
        backfillSilent: options.backfill,
        speed: options.speed,
        follow: options.follow === true,
        topologyOut: options.topologyOut,
        truthOut: options.truthOut,
        progress: options.progress && process.stderr.isTTY,
        signal: abort.signal,
      });
      console.log(
        `published ${result.messages} messages: ${result.readings} readings, ${result.weather} weather observations` +
          (result.topologyFiles.length ? `; topology in ${result.topologyFiles.join(', ')}` : '') +
          (result.truthFiles.length ? `; ground truth in ${result.truthFiles.join(', ')}` : ''),
      );
    });
}
