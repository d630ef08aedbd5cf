import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MemoryLog } from '../../io/log/memory-log.js';
import { ownGroup } from '../../io/log/log.js';
import {
  ALL_ROLES,
  DATAFLOW,
  declaredLog,
  renderDataflow,
  STOP_ORDER,
  type DataflowNode,
} from '../../pipelines/dataflow.js';
import { GROUPS, TOPICS, type TopicId } from '../../pipelines/log-topics.js';

const nodes: readonly DataflowNode[] = DATAFLOW;
const readers = (topic: TopicId) => nodes.filter((n) => n.inputs.includes(topic));
const writers = (topic: TopicId) => nodes.filter((n) => n.outputs.includes(topic));

describe('the dataflow (pipelines/dataflow.ts)', () => {
  it('is what the diagram at the top of pipelines/start-pipeline.ts shows', () => {
    const source = readFileSync(new URL('../../pipelines/start-pipeline.ts', import.meta.url), 'utf8');
    const diagram = /\* DATAFLOW-BEGIN\n([\s\S]*?) \* DATAFLOW-END/.exec(source)?.[1];
    // On a change to the dataflow, paste renderDataflow()'s lines (each after ' * ') between the markers.
    expect(diagram?.split('\n').slice(0, -1)).toEqual(renderDataflow().map((line) => ` * ${line}`));
  });

  it('reads every topic some node writes, and writes every topic some node reads: all of them', () => {
    for (const topic of Object.keys(TOPICS) as TopicId[]) {
      expect(
        readers(topic).map((n) => n.id),
        `readers of ${topic}`,
      ).not.toEqual([]);
      expect(
        writers(topic).map((n) => n.id),
        `writers of ${topic}`,
      ).not.toEqual([]);
    }
    // The warehouse sink keeps every topic but the readings (the readings task writes those itself) and the
    // flexibility events' (the events task writes their steps itself, before it commits; commands and clock
    // ticks are its input, not a record of anything).
    const sink = nodes.find((n) => n.id === 'warehouseSink')!;
    const readings = nodes.find((n) => n.id === 'readings')!;
    expect([...sink.inputs, ...readings.inputs, 'events', 'eventLifecycle'].sort()).toEqual(
      Object.keys(TOPICS).sort(),
    );
  });

  it('names each consumer group once, from the catalogue beside the topics', () => {
    const shared = nodes.flatMap((n) => (n.group && 'shared' in n.group ? [n.group.shared] : []));
    expect([...shared].sort()).toEqual(Object.keys(GROUPS).sort());
    expect(new Set(Object.values(GROUPS)).size).toBe(Object.keys(GROUPS).length);
    const own = nodes.flatMap((n) => (n.group && 'own' in n.group ? [n.group.own] : []));
    expect(new Set(own).size).toBe(own.length);
    // A node reads topics if and only if it has a consumer group.
    for (const node of nodes) expect(node.group === null, node.id).toBe(node.inputs.length === 0);
    expect(new Set(nodes.map((n) => n.id)).size).toBe(nodes.length);
  });

  it('gives every node a role, and every role a node', () => {
    for (const node of nodes) {
      expect(node.roles.length, node.id).toBeGreaterThan(0);
      for (const role of node.roles) expect(ALL_ROLES).toContain(role);
    }
    for (const role of ALL_ROLES)
      expect(
        nodes.some((n) => n.roles.includes(role)),
        role,
      ).toBe(true);
  });

  it('starts the table a node reads as a side input before it, in every process that runs the node', () => {
    nodes.forEach((node, k) => {
      for (const side of node.sideInputs) {
        if (side === 'warehouse') continue;
        const providers = nodes.filter((n) => n.provides === side);
        expect(providers, side).toHaveLength(1);
        const provider = providers[0]!;
        expect(nodes.indexOf(provider), `${side} before ${node.id}`).toBeLessThan(k);
        for (const role of node.roles) expect(provider.roles, `${side} in the ${role} role`).toContain(role);
        expect(provider.enabled, side).toBeUndefined();
      }
    });
  });

  it('stops writers before their readers, and the tables read as side inputs after the nodes reading them', () => {
    expect([...STOP_ORDER].sort()).toEqual(nodes.map((n) => n.id).sort());
    const rank = (id: string) => STOP_ORDER.indexOf(id as (typeof STOP_ORDER)[number]);
    for (const writer of nodes) {
      // What a table dead-letters while it stops stays on the log for the next start's sink.
      if (writer.provides) continue;
      for (const topic of writer.outputs)
        for (const reader of readers(topic))
          if (reader !== writer)
            expect(rank(writer.id), `${writer.id} stops before ${reader.id}`).toBeLessThan(rank(reader.id));
    }
    for (const provider of nodes.filter((n) => n.provides))
      for (const user of nodes.filter((n) => n.sideInputs.includes(provider.provides!)))
        expect(rank(user.id), `${user.id} stops before ${provider.id}`).toBeLessThan(rank(provider.id));
  });

  it('refuses a consumer the dataflow does not declare', async () => {
    const memory = new MemoryLog();
    await memory.ensureTopics(Object.values(TOPICS).map((t) => ({ name: t.name, partitions: 1 })));
    const log = declaredLog(memory);
    const consumers = nodes.flatMap((node) =>
      node.group
        ? [
            {
              group: 'shared' in node.group ? GROUPS[node.group.shared] : ownGroup(node.group.own),
              topics: node.inputs.map((t) => TOPICS[t].name),
            },
          ]
        : [],
    );
    for (const options of consumers) await log.consumer(options).close();
    expect(() => log.consumer({ group: 'gridstream-other', topics: [TOPICS.readings.name] })).toThrow(
      /not in the dataflow/,
    );
    expect(() => log.consumer({ group: GROUPS.stress, topics: [TOPICS.readings.name] })).toThrow(
      /not in the dataflow/,
    );
    expect(() => log.consumer({ group: ownGroup('x'), topics: [TOPICS.dispatches.name] })).toThrow(
      /not in the dataflow/,
    );
    await memory.close();
  });
});
