import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generatePassword, hashPassword, verifyPassword } from '../../core/password-hash.js';
import { redactUrl } from '../../core/redact.js';
import {
  addMqttAccount,
  mayPublish,
  maySubscribe,
  openMqttAccounts,
  parseMqttUsers,
  roleOfUsername,
  type MqttAccount,
} from '../../io/broker/mqtt-accounts.js';

const dir = mkdtempSync(join(tmpdir(), 'gridstream-mqtt-accounts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const meter: MqttAccount = { username: 'm-1', role: 'meter', id: 'm-1' };
const station: MqttAccount = { username: 'weather.ws-1', role: 'weather', id: 'ws-1' };
const flexco: MqttAccount = {
  username: 'dispatch.flexco',
  role: 'dispatch',
  id: 'flexco',
  assets: new Set(['bess-1', 'ev-2']),
};
const headEnd: MqttAccount = { username: 'he', role: 'head-end', id: 'he' };

describe('MQTT ACL', () => {
  it('lets a meter publish to its own telemetry topic only', () => {
    expect(mayPublish(meter, 'gridstream/v1/meters/m-1/telemetry')).toBe(true);
    expect(mayPublish(meter, 'gridstream/v1/meters/m-2/telemetry')).toBe(false);
    expect(mayPublish(meter, 'gridstream/v1/weather/m-1')).toBe(false);
    expect(mayPublish(meter, 'gridstream/v1/dispatch/m-1')).toBe(false);
    expect(mayPublish(meter, 'gridstream/v1/meters/m-1/telemetry/extra')).toBe(false);
    expect(mayPublish(meter, 'elsewhere/x')).toBe(false);
  });

  it("lets a weather station publish to its station's topic only", () => {
    expect(mayPublish(station, 'gridstream/v1/weather/ws-1')).toBe(true);
    expect(mayPublish(station, 'gridstream/v1/weather/ws-2')).toBe(false);
    expect(mayPublish(station, 'gridstream/v1/meters/ws-1/telemetry')).toBe(false);
  });

  it('limits a dispatch account to the dispatch topics of its assets', () => {
    expect(mayPublish(flexco, 'gridstream/v1/dispatch/bess-1')).toBe(true);
    expect(mayPublish(flexco, 'gridstream/v1/dispatch/ev-2')).toBe(true);
    expect(mayPublish(flexco, 'gridstream/v1/dispatch/bess-9')).toBe(false);
    expect(mayPublish(flexco, 'gridstream/v1/meters/flexco/telemetry')).toBe(false);
  });

  it('lets a head-end account publish for every meter, station and asset, and nowhere else', () => {
    for (const topic of [
      'gridstream/v1/meters/m-1/telemetry',
      'gridstream/v1/meters/m-999/telemetry',
      'gridstream/v1/weather/ws-3',
      'gridstream/v1/dispatch/bess-9',
    ])
      expect(mayPublish(headEnd, topic), topic).toBe(true);
    expect(mayPublish(headEnd, 'gridstream/v1/other')).toBe(false);
    expect(mayPublish(headEnd, '$SYS/broker/x')).toBe(false);
  });

  it("refuses every device a subscription (no reading of others' telemetry); a head-end reads gridstream/v1/ only", () => {
    for (const account of [meter, station, flexco]) {
      expect(maySubscribe(account, 'gridstream/v1/meters/m-2/telemetry')).toBe(false);
      expect(maySubscribe(account, 'gridstream/v1/meters/m-1/telemetry')).toBe(false);
      expect(maySubscribe(account, '#')).toBe(false);
    }
    expect(maySubscribe(headEnd, 'gridstream/v1/#')).toBe(true);
    expect(maySubscribe(headEnd, 'gridstream/v1/meters/+/telemetry')).toBe(true);
    expect(maySubscribe(headEnd, '#')).toBe(false);
    expect(maySubscribe(headEnd, '+/v1/#')).toBe(false);
    expect(maySubscribe(headEnd, '$SYS/#')).toBe(false);
  });

  it("reads a username's role as infra/mosquitto does", () => {
    expect(roleOfUsername('MTR-1')).toEqual({ role: 'meter', id: 'MTR-1' });
    expect(roleOfUsername('weather.ws-1')).toEqual({ role: 'weather', id: 'ws-1' });
    expect(roleOfUsername('dispatch.flexco')).toEqual({ role: 'dispatch', id: 'flexco' });
  });
});

describe('password hashes', () => {
  it('are salted scrypt, verified only by the right password', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^\$scrypt\$ln=12,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct horse');
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horse', b)).toBe(true);
    expect(await verifyPassword('correct horsf', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  it('refuses a malformed hash, and one whose cost was tampered with', async () => {
    const hash = await hashPassword('pw');
    expect(await verifyPassword('pw', 'pw')).toBe(false);
    expect(await verifyPassword('pw', hash.replace('ln=12', 'ln=30'))).toBe(false);
    expect(await verifyPassword('pw', hash.replace('ln=12', 'ln=11'))).toBe(false);
  });

  it('generates random URL-safe passwords', () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(generatePassword()).not.toBe(a);
  });
});

describe('GRIDSTREAM_MQTT_USERS', () => {
  it('takes comma-separated user:password, a password keeping its colons', () => {
    expect(parseMqttUsers('he-1:pw-1, he-2:p:w')).toEqual([
      { username: 'he-1', password: 'pw-1' },
      { username: 'he-2', password: 'p:w' },
    ]);
  });

  it('refuses a user without a password, a bad username, and an empty list', () => {
    expect(() => parseMqttUsers('he-1')).toThrow('GRIDSTREAM_MQTT_USERS: no password for he-1');
    expect(() => parseMqttUsers('he/1:pw')).toThrow(/GRIDSTREAM_MQTT_USERS: a username must not contain/);
    expect(() => parseMqttUsers(' , ')).toThrow('GRIDSTREAM_MQTT_USERS is set but holds no user');
  });
});

describe('accounts', () => {
  it('logs in head-end accounts and the password file’s devices; refuses anonymous, unknown and wrong passwords', async () => {
    const file = join(dir, 'a', 'passwd');
    await addMqttAccount(file, 'meter', 'm-1', 'm1-secret');
    await addMqttAccount(file, 'dispatch', 'flexco', 'flexco-secret', ['bess-1']);
    const accounts = await openMqttAccounts({ headEnd: 'he:he-secret', file });
    const login = (user: string | undefined, password: string | undefined) =>
      accounts.authenticate(user, password === undefined ? undefined : Buffer.from(password));
    expect(await login('he', 'he-secret')).toEqual({ username: 'he', role: 'head-end', id: 'he' });
    expect(await login('m-1', 'm1-secret')).toEqual({ username: 'm-1', role: 'meter', id: 'm-1' });
    expect(await login('dispatch.flexco', 'flexco-secret')).toEqual({
      username: 'dispatch.flexco',
      role: 'dispatch',
      id: 'flexco',
      assets: new Set(['bess-1']),
    });
    expect(await login(undefined, undefined)).toBeNull();
    expect(await login('m-1', undefined)).toBeNull();
    expect(await login('m-1', 'he-secret')).toBeNull();
    expect(await login('he', 'm1-secret')).toBeNull();
    expect(await login('nobody', '')).toBeNull();
  });

  it('keeps only hashes in the password file, mode 600, and sees accounts added or changed while it runs', async () => {
    const file = join(dir, 'b', 'passwd');
    await addMqttAccount(file, 'meter', 'm-1', 'first');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'b')).mode & 0o777).toBe(0o700);
    const accounts = await openMqttAccounts({ headEnd: undefined, file });
    expect(await accounts.authenticate('m-2', Buffer.from('two'))).toBeNull();
    await addMqttAccount(file, 'meter', 'm-2', 'two');
    await addMqttAccount(file, 'meter', 'm-1', 'second');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/first|second|two/);
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(await accounts.authenticate('m-2', Buffer.from('two'))).not.toBeNull();
    expect(await accounts.authenticate('m-1', Buffer.from('first'))).toBeNull();
    expect(await accounts.authenticate('m-1', Buffer.from('second'))).not.toBeNull();
  });

  it('ignores a password-file entry that names a head-end account, and malformed lines', async () => {
    const file = join(dir, 'c', 'passwd');
    await addMqttAccount(file, 'meter', 'he', 'device-pw');
    writeFileSync(file, `${readFileSync(file, 'utf8')}m-9:plaintext\n`);
    const accounts = await openMqttAccounts({ headEnd: 'he:he-pw', file });
    expect(await accounts.authenticate('he', Buffer.from('device-pw'))).toBeNull();
    expect((await accounts.authenticate('he', Buffer.from('he-pw')))?.role).toBe('head-end');
    expect(await accounts.authenticate('m-9', Buffer.from('plaintext'))).toBeNull();
  });

  it('refuses logins while the password file cannot be read, and lets them in once it can', async () => {
    const file = join(dir, 'e', 'passwd');
    await addMqttAccount(file, 'meter', 'm-1', 'pw-1');
    const accounts = await openMqttAccounts({ headEnd: undefined, file });
    // A directory in its place fails the read whoever runs the test (root reads a mode 000 file).
    rmSync(file);
    mkdirSync(file);
    await expect(accounts.authenticate('m-1', Buffer.from('pw-1'))).rejects.toThrow();
    rmSync(file, { recursive: true });
    await addMqttAccount(file, 'meter', 'm-1', 'pw-1');
    expect(await accounts.authenticate('m-1', Buffer.from('pw-1'))).not.toBeNull();
  });

  it('refuses accounts add-user.sh refuses: bad ids, meter ids of other roles, dispatch without assets', async () => {
    const file = join(dir, 'd', 'passwd');
    await expect(addMqttAccount(file, 'meter', 'm/1', 'pw')).rejects.toThrow(/must not contain/);
    await expect(addMqttAccount(file, 'meter', 'weather.x', 'pw')).rejects.toThrow(/must not start with/);
    await expect(addMqttAccount(file, 'meter', 'm-1', '')).rejects.toThrow(/must not be empty/);
    await expect(addMqttAccount(file, 'dispatch', 'flexco', 'pw')).rejects.toThrow(/needs the assets/);
    await expect(addMqttAccount(file, 'meter', 'm-1', 'pw', ['a'])).rejects.toThrow(/only dispatch/);
  });
});

describe('redactUrl', () => {
  it('hides the password of a URL and leaves the rest', () => {
    expect(redactUrl('mqtt://gridstream-ingest:s3cret@mosquitto:1883')).toBe(
      'mqtt://gridstream-ingest:***@mosquitto:1883',
    );
    expect(redactUrl('http://user:p%40ss@ch:8123/db')).toBe('http://user:***@ch:8123/db');
    expect(redactUrl('mqtt://127.0.0.1:1883')).toBe('mqtt://127.0.0.1:1883');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});
