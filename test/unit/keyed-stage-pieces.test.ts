import { describe, expect, it } from 'vitest';

import { KeyedStage, type Replayed } from '../../pipelines/keyed-stage.js';

/**
 * A partition's rebuild in pieces (pipelines/keyed-stage.ts): the restore's pieces and the replay's batches,
 * each dated by the replay's last record, give the state a rebuild from one piece and one batch gives.
 */
type Input = { n: number };

function stage(restorePieces: number[][], seen: Array<ReadonlyMap<number, number[]>>) {
  return new KeyedStage<number[], Input, number, Input>({
    processor: {
      name: 'sequence',
      init: () => [],
      step: (state, input) => ({ state: [...state, input.n], outputs: [input.n] }),
    },
    partitions: 2,
    toInput: (value) => value,
    punctuation: { input: { n: -1 }, everyMs: 1000 },
    route: (outputs) =>
      new Map([['out', outputs.map((n) => ({ key: String(n), value: Buffer.from(`${n}`) }))]]),
    replayLookbackMs: 50,
    restore: async function* () {
      for (const piece of restorePieces) yield piece.map((n) => ({ n }));
    },
    observe: (states) => seen.push(new Map(states)),
  });
}

/** Replayed values 100…119 stamped 10 ms apart: the stage's 50 ms lookback keeps the last six. */
const replay: Array<Replayed<Input>> = Array.from({ length: 20 }, (_, k) => ({
  value: { n: 100 + k },
  timestamp: 1_000 + 10 * k,
}));

async function rebuild(pieces: number[][], batch: number) {
  const seen: Array<ReadonlyMap<number, number[]>> = [];
  const s = stage(pieces, seen);
  await s.assign(1);
  const last = replay.at(-1)!.timestamp;
  for (let at = 0; at < replay.length; at += batch) s.replay(1, replay.slice(at, at + batch), last);
  await s.assigned(1, true);
  s.afterBatch(0);
  return { state: seen.at(-1)!.get(1), outputs: s.takeOutputs() };
}

describe('a keyed stage rebuilt in pieces', () => {
  it('has the state and outputs of a rebuild from one piece', async () => {
    const whole = await rebuild([[1, 2, 3, 4, 5, 6, 7]], replay.length);
    expect(whole.state).toEqual([1, 2, 3, 4, 5, 6, 7, 114, 115, 116, 117, 118, 119]);
    const pieces = await rebuild([[1, 2], [3], [], [4, 5, 6], [7]], 3);
    expect(pieces).toEqual(whole);
  });
});
