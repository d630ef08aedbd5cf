import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiFailure, callApi, keyStore } from './api.js';
import { FleetView } from './fleet.js';
import { TransformerView } from './transformer.js';
import { Unauthorized } from './use-api.js';

/** The view a location hash names: `#/` the fleet, `#/dt/<id>` a transformer (the key never goes in a URL). */
type Route = { view: 'fleet' } | { view: 'dt'; id: string };

function routeOf(hash: string): Route {
  const dt = /^#\/dt\/(.+)$/.exec(hash);
  if (dt)
    try {
      return { view: 'dt', id: decodeURIComponent(dt[1]!) };
    } catch {
      // A malformed escape in a typed or pasted address: the fleet rather than a blank page.
    }
  return { view: 'fleet' };
}

/** The route, and whether it was reached by moving within the console (not by loading the page). */
function useRoute(): [Route, boolean] {
  const [state, setState] = useState(() => ({ route: routeOf(location.hash), moved: false }));
  useEffect(() => {
    const changed = () => setState({ route: routeOf(location.hash), moved: true });
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return [state.route, state.moved];
}

/** Asks for the API key once; it is checked against the API before the tab keeps it. */
function KeyForm({ notice, onKey }: { notice: string | null; onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [message, setMessage] = useState<string | null>(notice);
  const [checking, setChecking] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) return setMessage('Enter the API key (X-API-Key) you were given.');
    setChecking(true);
    try {
      await callApi('/v1/dt?limit=1', { key: trimmed });
      onKey(trimmed);
    } catch (error) {
      const failure = error as ApiFailure;
      setMessage(
        failure.status === 401
          ? `The API key was not accepted: ${failure.message}. Check the key and try again.`
          : failure.status === 429
            ? `Too many attempts: ${failure.message}.`
            : `The API could not be reached to check the key: ${failure.message}`,
      );
    } finally {
      setChecking(false);
    }
  };
  return (
    <main id="main" class="key-gate">
      <h1>gridstream console</h1>
      <form onSubmit={submit}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          aria-invalid={message ? true : undefined}
          aria-describedby={message ? 'key-help key-message' : 'key-help'}
        />
        <button type="submit" disabled={checking}>
          {checking ? 'Checking…' : 'Open the console'}
        </button>
        <p id="key-help" class="hint">
          The key is kept in this tab only, until it closes, and sent in the X-API-Key header; it never
          appears in a URL.
        </p>
        {message && (
          <p id="key-message" class="error" role="alert">
            {message}
          </p>
        )}
      </form>
    </main>
  );
}

function App() {
  const [keyed, setKeyed] = useState(() => keyStore.get() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  // A view reached from another takes the focus to its heading; a page just loaded leaves it at the start.
  const [route, moved] = useRoute();
  /** Drops the key and asks for one again, saying why when the API refused it. */
  const forget = useCallback((why: string | null) => {
    keyStore.clear();
    setNotice(why);
    setKeyed(false);
  }, []);
  const unauthorized = useCallback(
    (message: string) => forget(`The API key was not accepted: ${message}. Enter a valid key.`),
    [forget],
  );
  useEffect(() => {
    document.title = route.view === 'dt' ? `${route.id} · gridstream console` : 'Fleet · gridstream console';
  }, [route]);
  if (!keyed)
    return (
      <KeyForm
        notice={notice}
        onKey={(key) => {
          keyStore.set(key);
          setNotice(null);
          setKeyed(true);
        }}
      />
    );
  return (
    <Unauthorized.Provider value={unauthorized}>
      <a class="skip" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header class="top">
        <a href="#/" class="brand">
          gridstream
        </a>
        <nav aria-label="Views">
          <a href="#/" aria-current={route.view === 'fleet' ? 'page' : undefined}>
            Fleet
          </a>
        </nav>
        <button type="button" class="link" onClick={() => forget(null)}>
          Forget key
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.view === 'fleet' ? (
          <FleetView focus={moved} />
        ) : (
          <TransformerView key={route.id} id={route.id} focus={moved} />
        )}
      </main>
    </Unauthorized.Provider>
  );
}

/** The skip link moves focus without touching the hash, which names the view. */
function skipToMain(event: Event) {
  event.preventDefault();
  document.getElementById('main')?.focus();
}

render(<App />, document.getElementById('app')!);
