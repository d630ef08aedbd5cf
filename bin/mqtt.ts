import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../core/config.js';
import { generatePassword } from '../core/password-hash.js';
import { addMqttAccount, mqttPasswordFile } from '../io/broker/mqtt-accounts.js';

/** `gridstream mqtt add-user`: accounts of the embedded broker, as infra/mosquitto/add-user.sh makes them. */
export function mqttCommand(program: Command): void {
  const mqtt = program.command('mqtt').description("The embedded MQTT broker's device accounts");
  mqtt
    .command('add-user')
    .description(
      'Add a device account to GRIDSTREAM_DATA_DIR/mqtt/passwd (or change its password); a running gridstream picks it up at the next connect',
    )
    .argument('<role>', 'meter (username: the meter id), weather (weather.ID) or dispatch (dispatch.ID)')
    .argument('<id>', 'meter id, weather station id or dispatch platform name')
    .option('--password <password>', 'the password (default: a random one, printed)')
    .option('--assets <ids>', 'dispatch: comma-separated asset ids whose dispatch topics it may publish to')
    .option('--config <file>', 'JSON config file')
    .action(async (role: string, id: string, options) => {
      if (role !== 'meter' && role !== 'weather' && role !== 'dispatch')
        throw new ConfigError(`role must be meter, weather or dispatch, not ${JSON.stringify(role)}`);
      const file = mqttPasswordFile(loadConfig(process.env, options.config).dataDir);
      const password: string = options.password ?? generatePassword();
      const assets = options.assets ? String(options.assets).split(',').filter(Boolean) : [];
      const username = await addMqttAccount(file, role, id, password, assets);
      console.log(`${role} account ${username} added to ${file}`);
      if (options.password === undefined) console.log(`password: ${password}`);
    });
}
