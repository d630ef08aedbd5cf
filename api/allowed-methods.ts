/**
 * The methods each route path answers, for a 405 with `Allow` (RFC 9110) when a known path is asked with
 * another method: a 404 would say the path does not exist. Fed by an onRoute hook (api/server.ts).
 */
export class AllowedMethods {
  private readonly paths: Array<{ pattern: RegExp; methods: Set<string> }> = [];

  add(url: string, methods: string | string[]): void {
    // A route parameter (`:id`) matches one path segment, as the router does.
    const source = url
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    let entry = this.paths.find((p) => p.pattern.source === `^${source}$`);
    if (!entry) {
      entry = { pattern: new RegExp(`^${source}$`), methods: new Set() };
      this.paths.push(entry);
    }
    for (const method of [methods].flat()) entry.methods.add(method.toUpperCase());
  }

  /** The methods `path` is served with, sorted, or undefined when no route has that path. */
  of(path: string): string[] | undefined {
    const methods = new Set<string>();
    for (const p of this.paths) if (p.pattern.test(path)) for (const m of p.methods) methods.add(m);
    return methods.size ? [...methods].sort() : undefined;
  }
}
