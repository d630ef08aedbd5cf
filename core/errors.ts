/** An error's message (or the thrown value as text), trimmed: for logs and dead letters' reasons. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message.trim() : String(error);
}
