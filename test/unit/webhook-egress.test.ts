import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config.js';
import { classifyAddress, EgressPolicy, ipBytes } from '../../io/webhooks/egress.js';

/** Where webhooks may go: every notation of a refused address, IPv6 forms embedding one, and the allow-list. */
const policy = new EgressPolicy();
/** What the subscription check says of a URL, with DNS answered from `names` (a name not there does not resolve). */
const urlRefusal = (url: string, names: Record<string, string[]> = {}, on = policy) =>
  on.urlRefusal(new URL(url), async (host) => {
    const found = names[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found;
  });

describe('webhook egress: address classification', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1 is a loopback address'],
    ['127.255.0.9', '127.255.0.9 is a loopback address'],
    ['10.0.0.1', '10.0.0.1 is a private (RFC 1918) address'],
    ['172.16.5.4', '172.16.5.4 is a private (RFC 1918) address'],
    ['192.168.1.1', '192.168.1.1 is a private (RFC 1918) address'],
    ['169.254.169.254', '169.254.169.254 is a link-local (cloud metadata) address'],
    ['100.64.0.1', '100.64.0.1 is a carrier-grade NAT (RFC 6598) address'],
    ['0.0.0.0', '0.0.0.0 is an unspecified ("this network") address'],
    ['255.255.255.255', '255.255.255.255 is a broadcast address'],
    ['224.0.0.251', '224.0.0.251 is a multicast address'],
    ['240.0.0.1', '240.0.0.1 is a reserved address'],
    ['192.0.2.10', '192.0.2.10 is a documentation address'],
    ['198.18.0.1', '198.18.0.1 is a benchmarking address'],
    ['::1', '::1 is a loopback address'],
    ['::', ':: is an unspecified address'],
    ['fd12:3456::1', 'fd12:3456::1 is a unique-local address'],
    ['fc00::1', 'fc00::1 is a unique-local address'],
    ['fe80::1', 'fe80::1 is a link-local address'],
    ['ff02::1', 'ff02::1 is a multicast address'],
    ['2001:db8::1', '2001:db8::1 is a documentation address'],
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1 is the IPv4-mapped form of 127.0.0.1, a loopback address'],
    ['::ffff:7f00:1', '::ffff:7f00:1 is the IPv4-mapped form of 127.0.0.1, a loopback address'],
    [
      '::ffff:a9fe:a9fe',
      '::ffff:a9fe:a9fe is the IPv4-mapped form of 169.254.169.254, a link-local (cloud metadata) address',
    ],
    ['::127.0.0.1', '::127.0.0.1 is a reserved (IPv4-compatible) address'],
    ['::7f00:1', '::7f00:1 is a reserved (IPv4-compatible) address'],
    ['64:ff9b::a00:1', '64:ff9b::a00:1 is the NAT64 form of 10.0.0.1, a private (RFC 1918) address'],
    ['64:ff9b::127.0.0.1', '64:ff9b::127.0.0.1 is the NAT64 form of 127.0.0.1, a loopback address'],
    ['64:ff9b:1::1', '64:ff9b:1::1 is a local-use NAT64 address'],
    ['2002:c0a8:101::1', '2002:c0a8:101::1 is the 6to4 form of 192.168.1.1, a private (RFC 1918) address'],
    ['2001:0:4136:e378::1', '2001:0:4136:e378::1 is a Teredo tunnel address'],
  ])('refuses %s', (address, why) => {
    expect(classifyAddress(address)).toBe(why);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '100.128.0.1',
    '172.32.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('lets public %s through', (address) => {
    expect(classifyAddress(address)).toBeNull();
  });

  it('reads IPv6 in every spelling to the same bytes', () => {
    const expected = ipBytes('0:0:0:0:0:ffff:7f00:1');
    for (const spelling of ['::ffff:127.0.0.1', '::FFFF:7F00:1', '0::ffff:7f00:0001', '::ffff:7f00:1'])
      expect(ipBytes(spelling), spelling).toEqual(expected);
    expect(ipBytes('not-an-ip')).toBeNull();
    expect(ipBytes('2130706433')).toBeNull();
  });
});

describe('webhook egress: URLs at subscription', () => {
  it.each([
    ['http://127.0.0.1:1/', '127.0.0.1 is a loopback address'],
    ['http://2130706433/', '127.0.0.1 is a loopback address'],
    ['http://0x7f.0.0.1/', '127.0.0.1 is a loopback address'],
    ['http://0x7f000001/', '127.0.0.1 is a loopback address'],
    ['http://0177.0.0.1/', '127.0.0.1 is a loopback address'],
    ['http://127.1/', '127.0.0.1 is a loopback address'],
    ['http://127.0.0.1./', '127.0.0.1 is a loopback address'],
    ['http://%31%32%37.0.0.1/', '127.0.0.1 is a loopback address'],
    ['http://0.0.0.0:1/', '0.0.0.0 is an unspecified ("this network") address'],
    ['http://10.0.0.1/', '10.0.0.1 is a private (RFC 1918) address'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is a link-local (cloud metadata) address'],
    ['http://[::1]/', '::1 is a loopback address'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1 is the IPv4-mapped form of 127.0.0.1, a loopback address'],
    ['http://[::ffff:7f00:1]/', '::ffff:7f00:1 is the IPv4-mapped form of 127.0.0.1, a loopback address'],
    [
      'http://[64:ff9b::10.0.0.1]/',
      '64:ff9b::a00:1 is the NAT64 form of 10.0.0.1, a private (RFC 1918) address',
    ],
    ['http://[fd00::1]:8080/', 'fd00::1 is a unique-local address'],
    ['http://localhost:8123/?query=SELECT%201', 'localhost is a loopback host name'],
    ['http://LOCALHOST./', 'localhost is a loopback host name'],
    ['http://db.localhost/', 'db.localhost is a loopback host name'],
  ])('refuses %s', async (url, why) => {
    expect(await urlRefusal(url)).toBe(why);
  });

  it('refuses a host name that resolves to a refused address (any of them), lets public ones and unresolved ones through', async () => {
    const names = {
      'rebind.example': ['93.184.216.34', '127.0.0.1'],
      'metadata.example': ['169.254.169.254'],
      'v6.example': ['::ffff:10.1.2.3'],
      'hooks.example': ['93.184.216.34', '2606:2800:220:1::1'],
    };
    expect(await urlRefusal('https://rebind.example/h', names)).toBe(
      'rebind.example resolves to a loopback address',
    );
    expect(await urlRefusal('https://metadata.example/', names)).toBe(
      'metadata.example resolves to a link-local (cloud metadata) address',
    );
    expect(await urlRefusal('https://v6.example/', names)).toBe(
      'v6.example resolves to a private (RFC 1918) address',
    );
    // What the name resolves to is the operator's business: the tenant is not told the address.
    expect(await urlRefusal('https://rebind.example/h', names)).not.toContain('127.0.0.1');
    expect(await urlRefusal('https://hooks.example/h', names)).toBeNull();
    // Judged at delivery, on what it resolves to then.
    expect(await urlRefusal('https://not-yet.example/h', names)).toBeNull();
  });
});

describe('webhook egress: the allow-list (GRIDSTREAM_WEBHOOK_ALLOW)', () => {
  const allow = new EgressPolicy(' 10.20.0.0/16, 127.0.0.1, fd00::/8, hooks.internal, *.corp.example ');

  it('permits addresses in an allowed CIDR or equal to an allowed address, in any form, and nothing next to them', () => {
    expect(allow.refusal('10.20.3.4')).toBeNull();
    expect(allow.refusal('::ffff:a14:304')).toBeNull();
    expect(allow.refusal('127.0.0.1')).toBeNull();
    expect(allow.refusal('fd00::7')).toBeNull();
    expect(allow.refusal('10.21.0.1')).toBe('10.21.0.1 is a private (RFC 1918) address');
    expect(allow.refusal('127.0.0.2')).toBe('127.0.0.2 is a loopback address');
    expect(allow.refusal('::1')).toBe('::1 is a loopback address');
    expect(allow.refusal('fc00::1')).toBe('fc00::1 is a unique-local address');
  });

  it('permits a host name on the list (or under a *. suffix) whatever it resolves to, and no other name', async () => {
    expect(allow.refusal('192.168.9.9', 'hooks.internal')).toBeNull();
    expect(allow.refusal('192.168.9.9', 'HOOKS.internal.')).toBeNull();
    expect(allow.refusal('192.168.9.9', 'a.b.corp.example')).toBeNull();
    expect(allow.refusal('192.168.9.9', 'corp.example.evil')).toBe(
      '192.168.9.9 is a private (RFC 1918) address',
    );
    expect(allow.refusal('192.168.9.9', 'other.internal')).toBe(
      '192.168.9.9 is a private (RFC 1918) address',
    );
    expect(
      await urlRefusal('http://hooks.internal:9000/h', { 'hooks.internal': ['192.168.9.9'] }, allow),
    ).toBeNull();
    expect(await urlRefusal('http://127.0.0.1:9000/h', {}, allow)).toBeNull();
    expect(await urlRefusal('http://localhost/', {}, new EgressPolicy('localhost'))).toBeNull();
    expect(await urlRefusal('http://localhost/', {}, allow)).toBe('localhost is a loopback host name');
  });

  it('refuses a malformed entry with a ConfigError naming the variable', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0.0/8/1', 'http://x/', '1.2.3', 'fd00::/129'])
      expect(() => new EgressPolicy(bad), bad).toThrow(ConfigError);
    expect(() => new EgressPolicy('10.0.0.0/33')).toThrow(
      'GRIDSTREAM_WEBHOOK_ALLOW: "10.0.0.0/33" is neither a CIDR, an IP address nor a host name',
    );
    expect(() => new EgressPolicy('')).not.toThrow();
  });
});
