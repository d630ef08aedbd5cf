import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request an HTTP receiver had: its path, headers and body text, and when it came. */
export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  at: number;
  /** When it was answered (set once it is). */
  answeredAt?: number;
}

export interface ReceiverOptions {
  /** The address to listen on (default 127.0.0.1). */
  host?: string;
  /** The status of the n-th request of a path (default 200). */
  status?: (path: string, n: number) => number;
  /** The body every answer carries (default none). */
  answer?: string;
  /** How long the n-th request of a path waits for its answer, ms (default 0). */
  delayMs?: (path: string, n: number) => number;
}

/**
 * An HTTP server that records every request, for the webhook tests: a subscriber's receiver, or an internal
 * service that must receive nothing.
 */
export async function startReceiver(options: ReceiverOptions = {}) {
  const host = options.host ?? '127.0.0.1';
  const received: ReceivedRequest[] = [];
  const counts = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '';
      const n = (counts.get(path) ?? 0) + 1;
      counts.set(path, n);
      const got: ReceivedRequest = {
        path,
        headers: request.headers,
        raw: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(got);
      setTimeout(
        () => {
          got.answeredAt = Date.now();
          response.writeHead(options.status?.(path, n) ?? 200).end(options.answer);
        },
        options.delayMs?.(path, n) ?? 0,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host}:${port}`,
    received,
    /** Waits until `predicate` holds of the requests so far (checked every 100 ms), or throws naming `what`. */
    async until(predicate: (r: ReceivedRequest[]) => boolean, what: string, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline)
          throw new Error(`receiver: ${what} not seen; got ${received.map((r) => r.path).join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
