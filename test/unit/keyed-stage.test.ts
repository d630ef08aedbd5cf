import { describe, expect, it } from 'vitest';
import { KeyedStage, type KeyedStageOptions } from '../../pipelines/keyed-stage.js';

/** A running sum per partition, updated in place; a value of 13 throws after changing the state. */
type Sum = { total: number };
type Input = { value: number } | { tick: true };
const applyTo = (state: Sum, value: number, outputs: number[]) => {
  state.total += value;
  if (value === 13) throw new Error('unlucky');
  if (value % 2 === 0) outputs.push(state.total);
};
const options = (direct: boolean): KeyedStageOptions<Sum, Input, number, number> => ({
  processor: {
    name: 'sums',
    init: () => ({ total: 0 }),
    step: (state, input) => {
      const outputs: number[] = [];
      if ('value' in input) applyTo(state, input.value, outputs);
      else outputs.push(-state.total);
      return { state, outputs };
    },
  },
  partitions: 2,
  toInput: (value) => ({ value }),
  ...(direct ? { applyValue: applyTo } : {}),
  punctuation: { input: { tick: true }, everyMs: 1000 },
  route: (outputs) => new Map([['sums', outputs.map((n) => ({ key: '', value: Buffer.from(String(n)) }))]]),
  replayLookbackMs: 0,
});

describe('KeyedStage', () => {
  it('applies a value with applyValue as the step does its input, a throw leaving no outputs', async () => {
    const run = async (direct: boolean) => {
      const stage = new KeyedStage(options(direct));
      await stage.assign(0);
      await stage.assign(1);
      const errors: string[] = [];
      for (const [partition, value] of [
        [0, 2],
        [1, 4],
        [0, 13],
        [0, 6],
        [1, 3],
        [1, 8],
      ] as const)
        try {
          stage.apply(partition, value);
        } catch (error) {
          errors.push((error as Error).message);
        }
      stage.punctuate(0, true);
      return { errors, outputs: stage.takeOutputs().map(([t, r]) => [t, r.map((x) => x.value.toString())]) };
    };
    const direct = await run(true);
    expect(direct).toEqual(await run(false));
    expect(direct.errors).toEqual(['unlucky']);
    expect(direct.outputs).toEqual([['sums', ['2', '4', '21', '15', '-21', '-15']]]);
  });
});
