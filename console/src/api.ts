/** The console's one way to the API: the key from the tab's session, JSON in and out, errors as ApiFailure. */

const KEY_ITEM = 'gridstream.api-key';

/** The API key lives in the tab's sessionStorage: kept across reloads, gone when the tab closes. */
export const keyStore = {
  get: (): string | null => sessionStorage.getItem(KEY_ITEM),
  set: (key: string) => sessionStorage.setItem(KEY_ITEM, key),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};

/** A refused or failed call: the API's status, error code and message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Retries of a call the API's rate limit refused (429), each after the Retry-After it names. */
const RATE_LIMIT_RETRIES = 3;

export async function callApi<T>(
  path: string,
  options: { method?: string; body?: unknown; signal?: AbortSignal; key?: string } = {},
): Promise<T> {
  const key = options.key ?? keyStore.get();
  if (!key) throw new ApiFailure(401, 'no_key', 'no API key entered');
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(path, {
      method: options.method ?? 'GET',
      headers: {
        'x-api-key': key,
        accept: 'application/json',
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      cache: 'no-store',
    });
    const text = await response.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: reported below with the status.
    }
    if (response.ok) return json as T;
    const body = (json ?? {}) as { error?: string; message?: string };
    const failure = new ApiFailure(
      response.status,
      body.error ?? `http_${response.status}`,
      body.message ?? `${response.status} ${response.statusText}`,
    );
    // The key's own limits pass; failed authentications from this address do not, so waiting only delays the message.
    if (
      response.status !== 429 ||
      failure.code === 'too_many_failed_authentications' ||
      attempt >= RATE_LIMIT_RETRIES
    )
      throw failure;
    await delay(Math.max(1, Number(response.headers.get('retry-after') ?? '1')) * 1000, options.signal);
  }
}

/** Waits `ms`, or rejects as soon as the call is aborted (its view was left). */
function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
