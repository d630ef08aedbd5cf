/**
 * A URL as it may be printed or logged: a password in it is replaced by `***` (the username stays, to tell
 * accounts apart). Text that is not a URL is returned unchanged.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (!parsed.password) return url;
  parsed.password = '***';
  return parsed.toString();
}
