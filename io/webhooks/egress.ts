import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { ConfigError } from '../../core/config.js';

/**
 * Where webhooks may go. A tenant chooses a webhook's URL, and the sender POSTs to it from inside the
 * operator's network: without a policy any API key could make gridstream call its own ClickHouse, a cloud
 * metadata service or anything else only reachable from here (server-side request forgery). So a receiver
 * must be a public address: loopback, private, link-local, unique-local, CGNAT, unspecified, multicast,
 * broadcast, reserved and documentation ranges are refused, in any IPv6 form that embeds such an IPv4
 * address too. The check runs when a subscription is made (on the URL's host and what it resolves to) and
 * again on every connection, on the addresses the name resolves to then (DNS rebinding gets nothing).
 * An operator whose receivers are on a private network names them in GRIDSTREAM_WEBHOOK_ALLOW.
 */

type Bytes = Uint8Array;

/** The 4 or 16 bytes of an IP address in canonical notation (as URL, DNS and sockets give them), or null. */
export function ipBytes(address: string): Bytes | null {
  const version = isIP(address);
  if (version === 4) return Uint8Array.from(address.split('.').map(Number));
  if (version !== 6) return null;
  let text = address.toLowerCase();
  // A trailing dotted quad is the last 32 bits.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (quad) {
    tail = quad[1]!.split('.').map(Number);
    text = text.slice(0, -quad[1]!.length) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const front = groups(head);
  const back = rest === undefined ? [] : groups(rest);
  const words = [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  if (quad) bytes.set(tail, 12);
  return bytes;
}

const v4Text = (b: Bytes) => Array.from(b).join('.');

interface Range {
  bytes: Bytes;
  bits: number;
}

function parseCidr(text: string): Range | null {
  const [address, bitsText, extra] = text.split('/');
  if (extra !== undefined || address === undefined) return null;
  const bytes = ipBytes(address);
  if (!bytes) return null;
  const bits = bitsText === undefined ? bytes.length * 8 : Number(bitsText);
  if (!/^\d+$/.test(bitsText ?? '0') || !Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8)
    return null;
  return { bytes, bits };
}

function inRange(address: Bytes, range: Range): boolean {
  if (address.length !== range.bytes.length) return false;
  for (let bit = 0; bit < range.bits; bit += 8) {
    const take = Math.min(8, range.bits - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((address[bit / 8]! & mask) !== (range.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

const ranges = (table: Array<[string, string]>) =>
  table.map(([cidr, kind]) => ({ range: parseCidr(cidr)!, kind }));

/** IPv4 ranges no webhook may reach (RFC 6890's special-purpose registry, less what is globally reachable). */
const REFUSED_V4 = ranges([
  ['255.255.255.255/32', 'broadcast'],
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignment'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
]);

/**
 * IPv6 ranges no webhook may reach, the first match naming the reason; forms that embed an IPv4 address are
 * judged by it first (EMBEDDING_V4).
 */
const REFUSED_V6 = ranges([
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b:1::/48', 'local-use NAT64'],
  ['100::/64', 'discard-only'],
  ['2001::/32', 'Teredo tunnel'],
  ['2001:2::/48', 'benchmarking'],
  ['2001:10::/28', 'ORCHID'],
  ['2001:20::/28', 'ORCHID'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
  // Last: the ranges above it that start with a zero byte (64:ff9b:1::/48) name themselves first.
  ['::/8', 'reserved (IPv4-compatible)'],
]);

/** IPv6 forms that carry an IPv4 address, and where (byte offset): that address decides. */
const EMBEDDING_V4: Array<{ range: Range; at: number; form: string }> = [
  { range: parseCidr('::ffff:0:0/96')!, at: 12, form: 'IPv4-mapped' },
  { range: parseCidr('::ffff:0:0:0/96')!, at: 12, form: 'IPv4-translated' },
  { range: parseCidr('64:ff9b::/96')!, at: 12, form: 'NAT64' },
  { range: parseCidr('2002::/16')!, at: 2, form: '6to4' },
];

const article = (kind: string) => (/^(?:[aeio]|un(?!i))/i.test(kind) ? 'an' : 'a');

/**
 * What makes an address unfit to receive webhooks, as "a loopback address" or "the IPv4-mapped form of
 * 127.0.0.1, a loopback address" (`bare`: without the embedded address, as "a loopback address"); null
 * for a public address.
 */
function refusedAs(bytes: Bytes, bare = false): string | null {
  if (bytes.length === 4) {
    const hit = REFUSED_V4.find((r) => inRange(bytes, r.range));
    return hit ? `${article(hit.kind)} ${hit.kind} address` : null;
  }
  for (const e of EMBEDDING_V4)
    if (inRange(bytes, e.range)) {
      const v4 = bytes.slice(e.at, e.at + 4);
      const inner = refusedAs(v4);
      return inner && (bare ? inner : `the ${e.form} form of ${v4Text(v4)}, ${inner}`);
    }
  const hit = REFUSED_V6.find((r) => inRange(bytes, r.range));
  return hit ? `${article(hit.kind)} ${hit.kind} address` : null;
}

/**
 * Why `address` (canonical IPv4 or IPv6) may not receive webhooks, as "127.0.0.1 is a loopback address", or
 * null for a public address. The allow-list is not consulted: see EgressPolicy.refusal.
 */
export function classifyAddress(address: string): string | null {
  const bytes = ipBytes(address);
  if (!bytes) return `${address} is not an IP address`;
  const why = refusedAs(bytes);
  return why && `${address} is ${why}`;
}

/** A host as a comparable name: lower case, without a trailing dot; an IPv6 literal without its brackets. */
const hostKey = (host: string) =>
  host
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^\[(.*)\]$/, '$1');

/** A connection refused by the policy (the socket is never opened). */
export class EgressRefused extends Error {
  readonly code = 'EGRESS_REFUSED';
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** What GRIDSTREAM_WEBHOOK_ALLOW permits, and the checks that apply it. */
export class EgressPolicy {
  private readonly hosts = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly cidrs: Range[] = [];

  /**
   * `allow`: comma-separated CIDRs (10.20.0.0/16, fd00::/8), addresses (a /32 or /128) and host names
   * (hooks.internal, or *.internal.example for its subdomains); a name is trusted to resolve anywhere.
   */
  constructor(allow: string | undefined = undefined) {
    for (const raw of (allow ?? '').split(',')) {
      const entry = raw.trim();
      if (entry === '') continue;
      const cidr = parseCidr(hostKey(entry));
      if (cidr) this.cidrs.push(cidr);
      else if (/^\*\.[a-z0-9.-]+$/i.test(entry)) this.suffixes.push(hostKey(entry.slice(1)));
      else if (/^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(entry) && !/^[\d.]+$/.test(entry))
        this.hosts.add(hostKey(entry));
      else
        throw new ConfigError(
          `GRIDSTREAM_WEBHOOK_ALLOW: ${JSON.stringify(entry)} is neither a CIDR, an IP address nor a host name`,
        );
    }
  }

  private hostAllowed(host: string): boolean {
    const key = hostKey(host);
    return this.hosts.has(key) || this.suffixes.some((s) => key.endsWith(s));
  }

  /**
   * Why a connection to `address` for a URL of host `host` is refused, or null: public addresses pass, as do
   * addresses in an allowed CIDR and any address of an allowed host name.
   */
  refusal(address: string, host: string = address): string | null {
    const why = this.refusedAs(address, host);
    return why && `${hostKey(address)} is ${why}`;
  }

  /**
   * Why a host name may not be connected to because it resolved to `address`, as "db.internal resolves to a
   * private (RFC 1918) address", or null. The address itself is left out: what the operator's DNS says of
   * its own names is none of a tenant's business.
   */
  private nameRefusal(host: string, address: string): string | null {
    const why = this.refusedAs(address, host, true);
    return why && `${hostKey(host)} resolves to ${why}`;
  }

  private refusedAs(address: string, host: string, bare = false): string | null {
    if (this.hostAllowed(host)) return null;
    const bytes = ipBytes(hostKey(address));
    if (!bytes) return 'not an IP address';
    if (this.cidrs.some((c) => inRange(bytes, c))) return null;
    // An allowed IPv4 range covers that address's IPv4-mapped form too.
    const mapped = EMBEDDING_V4[0]!;
    if (bytes.length === 16 && inRange(bytes, mapped.range)) {
      const v4 = bytes.slice(12);
      if (this.cidrs.some((c) => inRange(v4, c))) return null;
    }
    return refusedAs(bytes, bare);
  }

  /**
   * Why a webhook to `url` is refused when it is subscribed, or null: an IP host is judged as it is; a host
   * name by every address it resolves to now (one that does not resolve yet, or not within 5 s, is judged at
   * delivery).
   */
  async urlRefusal(url: URL, resolve = resolveAll): Promise<string | null> {
    const host = hostKey(url.hostname);
    if (this.hostAllowed(host)) return null;
    if (isIP(host)) return this.refusal(host);
    if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is a loopback host name`;
    let addresses: string[];
    try {
      addresses = await resolve(host);
    } catch {
      return null;
    }
    for (const address of addresses) {
      const why = this.nameRefusal(host, address);
      if (why) return why;
    }
    return null;
  }

  /**
   * A `lookup` for node:net (http.request, an Agent): resolves as dns.lookup does, then fails the
   * connection with EgressRefused unless every address is permitted, so the socket only ever connects to an
   * address that was checked. (node:net does not call it for an IP literal: check those with refusal.)
   */
  readonly lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      for (const { address } of addresses) {
        const why = this.nameRefusal(hostname, address);
        if (why) return callback(new EgressRefused(why), []);
      }
      if (addresses.length === 0) return callback(new EgressRefused(`${hostname} has no address`), []);
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** How long a subscription waits for its host name to resolve before leaving the check to delivery, ms. */
const SUBSCRIPTION_LOOKUP_MS = 5_000;

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${host}: no answer from DNS`)), SUBSCRIPTION_LOOKUP_MS);
    dnsLookup(host, { all: true }, (error, addresses) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(addresses.map((a) => a.address));
    });
  });
}

let current = new EgressPolicy();

/** Installs the process's policy from GRIDSTREAM_WEBHOOK_ALLOW (app/start-gridstream.ts, at start). */
export function configureWebhookEgress(allow: string | undefined): void {
  current = new EgressPolicy(allow);
}

/** The policy every webhook (subscription, delivery, test) is held to in this process. */
export function webhookEgress(): EgressPolicy {
  return current;
}
