import { Transform, type TransformCallback } from 'node:stream';

const QUOTE = 0x22;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const N = 0x4e;

/** Where the rewriter is in the CSV text. */
const enum At {
  /** The start of a field. */
  Start,
  /** An unquoted field of one byte so far, a backslash: a NULL if an N and the field's end follow. */
  Backslash,
  /** An unquoted field of `\N` so far. */
  BackslashN,
  /** Inside an unquoted field that is not a NULL. */
  Plain,
  /** Inside a quoted field. */
  Quoted,
  /** A quote inside a quoted field: its end, or the first of a doubled quote. */
  QuoteInQuoted,
}

/**
 * Rewrites ClickHouse's CSV output as it streams so that every NULL reads `nullText` instead of `\N`: what
 * the format_csv_null_representation setting does, for servers without it (dialect.ts, csv_null_representation).
 * ClickHouse writes a NULL as an unquoted `\N` field and quotes every string, so an unquoted field that is
 * exactly `\N` is a NULL and nothing else is. Works on bytes (a multi-byte UTF-8 character never contains one
 * of the ASCII bytes looked at), across chunk boundaries.
 */
export class CsvNullRewriter extends Transform {
  private at = At.Start;
  private readonly replacement: Buffer;

  constructor(nullText: string) {
    super();
    this.replacement = Buffer.from(nullText, 'utf8');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    // Each input byte becomes at most one output byte, except a NULL's 2 bytes (and 2 held from the last chunk).
    const out = Buffer.allocUnsafe(chunk.length * Math.max(1, this.replacement.length) + 2);
    let n = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      switch (this.at) {
        case At.Start:
          this.at = b === QUOTE ? At.Quoted : b === BACKSLASH ? At.Backslash : isEnd(b) ? At.Start : At.Plain;
          if (this.at !== At.Backslash) out[n++] = b;
          break;
        case At.Backslash:
          if (b === N) this.at = At.BackslashN;
          else {
            out[n++] = BACKSLASH;
            out[n++] = b;
            this.at = isEnd(b) ? At.Start : At.Plain;
          }
          break;
        case At.BackslashN:
          if (isEnd(b)) {
            n += this.replacement.copy(out, n);
            this.at = At.Start;
          } else {
            out[n++] = BACKSLASH;
            out[n++] = N;
            this.at = At.Plain;
          }
          out[n++] = b;
          break;
        case At.Plain:
          out[n++] = b;
          if (isEnd(b)) this.at = At.Start;
          break;
        case At.Quoted:
          out[n++] = b;
          if (b === QUOTE) this.at = At.QuoteInQuoted;
          break;
        case At.QuoteInQuoted:
          out[n++] = b;
          this.at = b === QUOTE ? At.Quoted : isEnd(b) ? At.Start : At.Plain;
          break;
      }
    }
    done(null, out.subarray(0, n));
  }

  override _flush(done: TransformCallback): void {
    // A last field without a line end after it.
    if (this.at === At.Backslash) done(null, Buffer.from([BACKSLASH]));
    else if (this.at === At.BackslashN) done(null, this.replacement);
    else done();
  }
}

function isEnd(b: number): boolean {
  return b === COMMA || b === NEWLINE;
}
