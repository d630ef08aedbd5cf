import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rememberEncodedRecords } from '../core/codec.js';
import { ConfigError, type GridstreamConfig } from '../core/config.js';
import { kafkaClientConfig } from '../core/kafka-config.js';
import { MQTT_SUBSCRIPTIONS } from '../ingest/mqtt-topics.js';
import { externalBroker, startEmbeddedBroker } from '../io/broker/broker.js';
import { mqttPasswordFile, openMqttAccounts } from '../io/broker/mqtt-accounts.js';
import { KafkaLog } from '../io/log/kafka-log.js';
import type { Log } from '../io/log/log.js';
import { MemoryLog } from '../io/log/memory-log.js';
import { migrate } from '../io/warehouse/migrate.js';
import { openWarehouse } from '../io/warehouse/open.js';
import { ALL_ROLES, type Edges, type Role } from '../pipelines/start-pipeline.js';
import { GROUPS } from '../pipelines/log-topics.js';

export interface EdgeOptions {
  /** The in-process log without its files: for `npm run bench:embedded` to measure what durability costs. */
  logInMemoryOnly?: boolean;
}

/** Opens the log, warehouse and broker the configuration names: embedded for whatever is unset. */
export async function openEdges(
  config: GridstreamConfig,
  roles: readonly Role[] = ALL_ROLES,
  options: EdgeOptions = {},
): Promise<Edges & { close(): Promise<void> }> {
  // Before anything is opened: unreadable TLS files stop the start with the variable's name.
  const kafkaSecurity = config.kafkaBrokers ? kafkaSecurityConfig(config) : undefined;
  const warehouse = await openWarehouse({ clickhouseUrl: config.clickhouseUrl, dataDir: config.dataDir });
  try {
    await migrate(warehouse, { retentionDays: config.retentionDays });
    // The in-process log keeps its records under the data directory, so a crash loses nothing acknowledged.
    const log: Log = config.kafkaBrokers
      ? new KafkaLog({
          brokers: config.kafkaBrokers,
          maxPollIntervalMs: config.kafkaMaxPollIntervalMs,
          config: kafkaSecurity,
        })
      : new MemoryLog({
          dir: options.logInMemoryOnly ? undefined : join(config.dataDir, 'log'),
          groups: Object.values(GROUPS),
        });
    // Only the in-process log hands a record's own buffer to its consumers, which then skip decoding it.
    rememberEncodedRecords(log.kind === 'memory');
    // Only the bridge consumes MQTT; a process without it starts no embedded broker.
    const broker = !roles.includes('bridge')
      ? null
      : config.mqttUrl
        ? externalBroker(config.mqttUrl)
        : await startEmbeddedBroker({
            port: config.mqttPort,
            host: config.mqttHost,
            consumedTopics: MQTT_SUBSCRIPTIONS,
            accounts: await openMqttAccounts({
              headEnd: config.mqttUsers,
              file: mqttPasswordFile(config.dataDir),
            }),
            tls: config.mqttTlsCert
              ? { cert: readFileSync(config.mqttTlsCert), key: readFileSync(config.mqttTlsKey!) }
              : undefined,
          });
    return {
      log,
      warehouse,
      broker,
      async close() {
        await broker?.close();
        await log.close();
        await warehouse.close();
      },
    };
  } catch (error) {
    await warehouse.close();
    throw error;
  }
}

function kafkaSecurityConfig(config: GridstreamConfig): Record<string, string> {
  try {
    return kafkaClientConfig(config);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}
