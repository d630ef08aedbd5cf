import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, callApi } from './api.js';

/** Told when the API refuses the key (401): the console forgets it and asks again. */
export const Unauthorized = createContext<(message: string) => void>(() => {});

/** Seconds between refreshes of the live views (localStorage `gridstream.console.poll-s`, default 30). */
export function pollSeconds(): number {
  const set = Number(localStorage.getItem('gridstream.console.poll-s'));
  return Number.isFinite(set) && set > 0 ? set : 30;
}

export interface Loaded<T> {
  data: T | undefined;
  error: ApiFailure | undefined;
  loading: boolean;
  /** When the data last arrived. */
  at: Date | undefined;
  reload: () => void;
}

/**
 * GETs `path` (null: nothing yet), again whenever it changes and, with `poll`, every pollSeconds(); a refresh
 * keeps the data shown until the new answer arrives. A 401 goes to the Unauthorized handler.
 */
export function useApi<T>(path: string | null, poll = false): Loaded<T> {
  const unauthorized = useContext(Unauthorized);
  const [state, setState] = useState<Omit<Loaded<T>, 'reload'>>({
    data: undefined,
    error: undefined,
    loading: path !== null,
    at: undefined,
  });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const current = useRef(path);
  useEffect(() => {
    if (current.current !== path) {
      current.current = path;
      setState({ data: undefined, error: undefined, loading: path !== null, at: undefined });
    }
    if (path === null) return;
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    callApi<T>(path, { signal: abort.signal }).then(
      (data) => setState({ data, error: undefined, loading: false, at: new Date() }),
      (error: unknown) => {
        if (abort.signal.aborted) return;
        const failure =
          error instanceof ApiFailure ? error : new ApiFailure(0, 'network', (error as Error).message);
        if (failure.status === 401) unauthorized(failure.message);
        setState((s) => ({ ...s, error: failure, loading: false }));
      },
    );
    return () => abort.abort();
  }, [path, tick, unauthorized]);
  useEffect(() => {
    if (!poll || path === null) return;
    const timer = setInterval(reload, pollSeconds() * 1000);
    return () => clearInterval(timer);
  }, [poll, path, reload]);
  return { ...state, reload };
}

/** The failure of a panel, in words. */
export function ErrorNote({ error }: { error: ApiFailure | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.status ? `${error.status} ${error.code}: ` : ''}
      {error.message}
    </p>
  );
}
