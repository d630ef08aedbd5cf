import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
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

interface State<T> {
  /** The path the data and error are of: nothing of another path is ever returned. */
  path: string | null;
  data?: T;
  /** The data as JSON: an answer equal to the last keeps the same object, so nothing redraws. */
  text?: string;
  error?: ApiFailure;
  at?: Date;
  loading: boolean;
}

/**
 * GETs `path` (null: nothing yet), again whenever it changes and, with `poll`, every pollSeconds() while the
 * page is visible; a refresh keeps the data shown until the new answer arrives. Data of another path is never
 * returned, unless `keepPrevious` (another filter of the same list): then it stays until the new path's answer.
 * A 401 goes to the Unauthorized handler.
 */
export function useApi<T>(path: string | null, poll = false, keepPrevious = false): Loaded<T> {
  const unauthorized = useContext(Unauthorized);
  const [state, setState] = useState<State<T>>({ path, loading: path !== null });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    setState((s) =>
      s.path === path || keepPrevious ? { ...s, path, loading: true } : { path, loading: true },
    );
    callApi<T>(path, { signal: abort.signal }).then(
      (data) => {
        const text = JSON.stringify(data);
        setState((s) =>
          s.path === path && s.text === text
            ? { ...s, error: undefined, loading: false, at: new Date() }
            : { path, data, text, loading: false, at: new Date() },
        );
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        const failure =
          error instanceof ApiFailure ? error : new ApiFailure(0, 'network', (error as Error).message);
        if (failure.status === 401) unauthorized(failure.message);
        setState((s) => ({ ...(s.path === path ? s : { path }), error: failure, loading: false }));
      },
    );
    return () => abort.abort();
  }, [path, tick, unauthorized, keepPrevious]);
  useEffect(() => {
    if (!poll || path === null) return;
    const refresh = () => {
      if (!document.hidden) reload();
    };
    const timer = setInterval(refresh, pollSeconds() * 1000);
    document.addEventListener('visibilitychange', refresh);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', refresh);
    };
  }, [poll, path, reload]);
  const mine = state.path === path || keepPrevious;
  return {
    data: mine ? state.data : undefined,
    error: mine ? state.error : undefined,
    loading: path !== null && (!mine || state.loading),
    at: mine ? state.at : undefined,
    reload,
  };
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
