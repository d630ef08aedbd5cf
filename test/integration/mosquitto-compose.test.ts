import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { VARIABLES } from '../../core/config.js';
import { mosquittoInstalled } from '../support/mosquitto.js';
import { freePort } from '../support/ports.js';

/**
 * docker-compose.yml cannot run here (no Docker engine), so these tests hold it to the local scripts: it
 * parses, it mounts the same Mosquitto and Prometheus files, its Mosquitto command starts a working broker
 * with this machine's Mosquitto, and the gridstream services are configured with variables gridstream knows.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  ports?: string[];
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const GRIDSTREAM_ROLES = ['bridge', 'processor', 'api'];

describe('docker-compose.yml, held to the local scripts', () => {
  it('parses and defines Kafka, ClickHouse, Mosquitto, Prometheus and the bridge, processor and api roles', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['api', 'bridge', 'clickhouse', 'kafka', 'mosquitto', 'processor', 'prometheus'].sort(),
    );
    for (const role of GRIDSTREAM_ROLES)
      expect(services[role]!.command, role).toEqual(['run', '--role', role]);
    expect(services.kafka!.environment!.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it('publishes every port on 127.0.0.1 only, and Prometheus without its lifecycle API', () => {
    const published = Object.entries(services).flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => [name, port]),
    );
    expect(published.length).toBeGreaterThan(0);
    for (const [name, port] of published) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    expect(JSON.stringify(services.prometheus)).not.toContain('lifecycle');
    expect(readFileSync(join(ROOT, 'infra/prometheus/start.sh'), 'utf8')).not.toContain('lifecycle');
  });

  it('builds the gridstream image, and the benchmarks start gridstream, with the process settings infra/run.sh exports (malloc arenas and thresholds)', () => {
    const run = readFileSync(join(ROOT, 'infra/run.sh'), 'utf8');
    const exported = {
      MALLOC_ARENA_MAX: /^export MALLOC_ARENA_MAX=\$\{MALLOC_ARENA_MAX:-([^}]+)\}$/m.exec(run)?.[1],
      GLIBC_TUNABLES: /^export GLIBC_TUNABLES=\$\{GLIBC_TUNABLES:-([^}]+)\}$/m.exec(run)?.[1],
    };
    const image = Object.fromEntries(
      [...readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8').matchAll(/^\s*ENV (\w+)=(\S+)\s*$/gm)].map(
        (m) => [m[1]!, m[2]!],
      ),
    );
    // The benchmarks' one copy of them (MALLOC_ENV), which every benchmark starting gridstream uses.
    const bench = readFileSync(join(ROOT, 'bench/common.ts'), 'utf8');
    for (const [name, value] of Object.entries(exported)) {
      expect(value, `infra/run.sh exports ${name}`).toBeDefined();
      expect(image[name], name).toBe(value);
      const benchDefault = new RegExp(`process\\.env\\.${name} \\?\\?\\s*'([^']+)'`).exec(bench)?.[1];
      expect(benchDefault, `bench/common.ts ${name}`).toBe(value);
    }
  });

  it('mounts only files that exist in the repository: the Mosquitto scripts and the Prometheus configuration', () => {
    const mounts = Object.values(services).flatMap((s) =>
      (s.volumes ?? []).filter((v) => v.startsWith('./')).map((v) => v.split(':')),
    );
    for (const [source] of mounts) expect(existsSync(join(ROOT, source!)), source).toBe(true);
    expect(mounts.map(([source, target]) => `${source} -> ${target}`)).toEqual(
      expect.arrayContaining([
        './infra/mosquitto -> /gridstream/infra/mosquitto',
        './infra/prometheus/prometheus.yml -> /etc/prometheus/prometheus.yml',
        './infra/prometheus/alerts.yml -> /etc/prometheus/alerts.yml',
        './infra/prometheus/compose-targets.yml -> /etc/prometheus/targets/gridstream.yml',
      ]),
    );
  });

  it('Prometheus scrapes each gridstream role on its GRIDSTREAM_HTTP_PORT with the role label alerts.yml expects', () => {
    const groups = parse(readFileSync(join(ROOT, 'infra/prometheus/compose-targets.yml'), 'utf8')) as Array<{
      targets: string[];
      labels: { role: string };
    }>;
    const scraped = groups.flatMap((g) => g.targets.map((t) => [t, g.labels.role]));
    expect(scraped).toEqual(
      GRIDSTREAM_ROLES.map((role) => [`${role}:${services[role]!.environment!.GRIDSTREAM_HTTP_PORT}`, role]),
    );
  });

  it('the gridstream services set only variables gridstream knows (core/config.ts), and the bridge logs in to Mosquitto as the ingest account', () => {
    for (const role of GRIDSTREAM_ROLES)
      for (const name of Object.keys(services[role]!.environment ?? {}))
        expect(Object.keys(VARIABLES), `${role}: ${name}`).toContain(name);
    expect(services.bridge!.environment!.GRIDSTREAM_MQTT_URL).toMatch(
      /^mqtt:\/\/gridstream-ingest:\$\{GRIDSTREAM_INGEST_PASSWORD[^}]*\}@mosquitto:1883$/,
    );
    expect(services.mosquitto!.environment!.GRIDSTREAM_INGEST_PASSWORD).toMatch(
      /^\$\{GRIDSTREAM_INGEST_PASSWORD/,
    );
  });

  it.skipIf(!mosquittoInstalled())(
    "its Mosquitto command, run with this machine's Mosquitto, starts a broker that admits the ingest account and refuses others",
    async () => {
      // The container's paths and port mapped onto this machine; $$ is compose's escape for $.
      const [shell, flag, script] = services.mosquitto!.command!;
      expect([shell, flag]).toEqual(['sh', '-c']);
      const data = mkdtempSync(join(tmpdir(), 'gridstream-compose-mosquitto-'));
      const port = await freePort();
      const local = script!
        .replaceAll('/gridstream/', ROOT)
        .replaceAll('/mosquitto/data', data)
        .replace('--port 1883', `--port ${port}`)
        .replace('--bind 0.0.0.0', '--bind 127.0.0.1')
        .replaceAll('$$', '$');
      const broker = spawn('sh', ['-c', local], {
        env: { ...process.env, GRIDSTREAM_INGEST_PASSWORD: 'compose-secret' },
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => broker.once('exit', resolve));
      try {
        const url = `mqtt://127.0.0.1:${port}`;
        let client: mqtt.MqttClient | undefined;
        for (let attempt = 0; !client && attempt < 50; attempt++)
          client = await mqtt
            .connectAsync(url, {
              username: 'gridstream-ingest',
              password: 'compose-secret',
              reconnectPeriod: 0,
            })
            .catch(async () => {
              await new Promise((resolve) => setTimeout(resolve, 100));
              return undefined;
            });
        expect(client?.connected).toBe(true);
        await client!.endAsync();
        await expect(
          mqtt.connectAsync(url, { username: 'gridstream-ingest', password: 'wrong', reconnectPeriod: 0 }),
        ).rejects.toMatchObject({ code: 5 });
      } finally {
        broker.kill('SIGTERM'); // the script exec'd mosquitto: this is the broker's pid
        await exited;
        rmSync(data, { recursive: true, force: true });
      }
    },
  );
});
