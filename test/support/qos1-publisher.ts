import mqtt, { type MqttClient } from 'mqtt';
import type { SimMessage } from '../../simulator/model.js';

/** A QoS 1 publisher that keeps what was not acknowledged and sends it again on its next connection. */
export class Publisher {
  readonly acked = new Set<number>();
  private client: MqttClient | null = null;
  resent = 0;

  /** `url`: the broker with the account's credentials in it. */
  constructor(
    private readonly url: string,
    private readonly messages: SimMessage[],
  ) {}

  async connect(): Promise<void> {
    this.client = await mqtt.connectAsync(this.url, { clientId: 'crash-test-publisher', reconnectPeriod: 0 });
    this.client.on('error', () => {});
    // A lost connection fails what is in flight (mqtt.js would otherwise keep it for a reconnect): the
    // messages stay unacknowledged here and are sent again on the next connection.
    const client = this.client;
    client.on('close', () => void client.endAsync(true).catch(() => {}));
  }

  /** Publishes messages [from, to) not yet acknowledged, 200 in flight; resolves when all are settled. */
  async publish(from: number, to: number, onAck?: () => void): Promise<void> {
    const client = this.client!;
    const inFlight = new Set<Promise<void>>();
    for (let k = from; k < to; k++) {
      if (this.acked.has(k)) continue;
      const message = this.messages[k]!;
      const sending = client
        .publishAsync(message.topic, JSON.stringify(message.payload), { qos: 1 })
        .then(
          () => {
            this.acked.add(k);
            onAck?.();
          },
          () => {},
        )
        .finally(() => inFlight.delete(sending));
      inFlight.add(sending);
      if (inFlight.size >= 200) await Promise.race(inFlight);
      if (!client.connected) break;
    }
    await Promise.all(inFlight);
  }

  /** Sends again everything before `to` that was not acknowledged. */
  async resend(to: number): Promise<void> {
    for (let k = 0; k < to; k++) if (!this.acked.has(k)) this.resent++;
    await this.publish(0, to);
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }
}
