/** The console's one way to the API: the key from the browser session, JSON in and out, errors as ApiFailure. */

const KEY_ITEM = 'gridstream.api-key';

/** The API key lives in sessionStorage: kept across reloads of the tab, gone with the browser session. */
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
    if (response.status === 429 && attempt < RATE_LIMIT_RETRIES) {
      const seconds = Number(response.headers.get('retry-after') ?? '1');
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, seconds) * 1000));
      continue;
    }
    const text = await response.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: reported below with the status.
    }
    if (!response.ok) {
      const body = (json ?? {}) as { error?: string; message?: string };
      throw new ApiFailure(
        response.status,
        body.error ?? `http_${response.status}`,
        body.message ?? `${response.status} ${response.statusText}`,
      );
    }
    return json as T;
  }
}
