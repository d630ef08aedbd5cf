import { Aedes } from 'aedes';
import { createServer, type AddressInfo } from 'node:net';

/**
 * The MQTT broker edge. Meters and the ingest client only need a URL: the embedded broker (aedes, in this
 * process) serves one in embedded mode, and an external broker (Mosquitto) is just its URL.
 */
export interface Broker {
  readonly url: string;
  readonly embedded: boolean;
  close(): Promise<void>;
}

export function externalBroker(url: string): Broker {
  return { url, embedded: false, close: async () => {} };
}

/** Starts aedes on `port` (0 = a free port) on the loopback and all interfaces' `host`. */
export async function startEmbeddedBroker(port: number, host = '0.0.0.0'): Promise<Broker> {
  const aedes = await Aedes.createBroker({ concurrency: 1000, drainTimeout: 120_000 });
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    embedded: true,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
