import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { COOLING_SET_NAMES } from '../processors/thermal/thermal.js';
import {
  parseThermalProfile,
  parseThermalSpec,
  runThermalProfile,
  thermalCsv,
  ThermalInputError,
} from '../processors/thermal/thermal-input.js';

export function thermalCommand(program: Command): void {
  program
    .command('thermal')
    .description(
      'IEC 60076-7 thermal model of one transformer over a load profile: top oil, hot spot and ageing rate as CSV on stdout',
    )
    .requiredOption(
      '--spec <file>',
      `transformer constants (JSON): top_oil_rise_k, hot_spot_gradient_k, loss_ratio, oil_exponent_x, winding_exponent_y, k11, k21, k22, tau_oil_min, tau_winding_min, initial_top_oil_c, optional initial_hot_spot_c, paper (normal|upgraded), cooling (${COOLING_SET_NAMES.join('|')}) to fill the constants not given`,
    )
    .requiredOption(
      '--profile <file>',
      'load profile (CSV) with header minute,load_factor,ambient_c; the first row is the initial instant, each later row holds over the interval since the row before it',
    )
    .addHelpText(
      'after',
      '\nOutput: minute,top_oil_c,hot_spot_c,ageing_rate, one row per profile row; loss of life and the peak hot spot go to stderr.',
    )
    .action((options: { spec: string; profile: string }) => {
      try {
        const spec = parseThermalSpec(read(options.spec), basename(options.spec));
        const profile = parseThermalProfile(read(options.profile), basename(options.profile));
        const run = runThermalProfile(spec, profile);
        // A reader that stops early (`| head`) is not an error.
        process.stdout.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code === 'EPIPE') process.exit(0);
          throw error;
        });
        for (const chunk of thermalCsv(run)) process.stdout.write(chunk);
        const span = profile.minute[profile.minute.length - 1]! - profile.minute[0]!;
        console.error(
          `loss of life ${round(run.loss_of_life_min)} min (${round(run.loss_of_life_min / 60)} h) over ${round(span)} min ` +
            `(${spec.paper} paper, mean ageing rate ${span > 0 ? round(run.loss_of_life_min / span) : 0}); ` +
            `peak hot spot ${run.peak_hot_spot_c.toFixed(1)} °C by minute ${run.peak_minute}`,
        );
      } catch (error) {
        if (!(error instanceof ThermalInputError || error instanceof FileError)) throw error;
        console.error(`gridstream: ${error.message}`);
        process.exitCode = 1;
      }
    });
}

class FileError extends Error {}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new FileError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}
