import type { GridstreamConfig } from '../core/config.js';
import { externalBroker, startEmbeddedBroker } from '../io/broker/broker.js';
import { KafkaLog } from '../io/log/kafka-log.js';
import type { Log } from '../io/log/log.js';
import { MemoryLog } from '../io/log/memory-log.js';
import { migrate } from '../io/warehouse/migrate.js';
import { openWarehouse } from '../io/warehouse/open.js';
import type { Edges } from '../pipelines/gridstream.js';

/** Opens the log, warehouse and broker the configuration names: embedded for whatever is unset. */
export async function openEdges(config: GridstreamConfig): Promise<Edges & { close(): Promise<void> }> {
  if (config.kafkaBrokers)
    throw new Error(
      'GRIDSTREAM_KAFKA_BROKERS is set, but this build has only the in-process log: unset it to run embedded',
    );
  const warehouse = await openWarehouse({ clickhouseUrl: config.clickhouseUrl, dataDir: config.dataDir });
  try {
    await migrate(warehouse, { retentionDays: config.retentionDays });
    const log: Log = config.kafkaBrokers ? new KafkaLog({ brokers: config.kafkaBrokers }) : new MemoryLog();
    const broker = config.mqttUrl
      ? externalBroker(config.mqttUrl)
      : await startEmbeddedBroker(config.mqttPort);
    return {
      log,
      warehouse,
      broker,
      async close() {
        await broker.close();
        await log.close();
        await warehouse.close();
      },
    };
  } catch (error) {
    await warehouse.close();
    throw error;
  }
}
