import { describe, expect, it } from 'vitest';
import { trespass, type CurrentTopology } from '../../api/tenancy.js';
import type { AssetRow, TopologyFile } from '../../core/topology.js';
import { meter, transformer } from '../support/topology.js';

/** dt-a is tenant a's, dt-b tenant b's; m-a sits on dt-a, bess-a behind dt-a; m-x on a DT nobody owns. */
const now: CurrentTopology = {
  dtOwners: new Map([
    ['dt-a', 'a'],
    ['dt-b', 'b'],
  ]),
  meterDts: new Map([
    ['m-a', 'dt-a'],
    ['m-x', 'dt-gone'],
  ]),
  assetDts: new Map([['bess-a', 'dt-a']]),
};
const asset = (asset_id: string, dt_id: string): AssetRow => ({
  asset_id,
  dt_id,
  meter_id: null,
  asset_type: 'BESS',
  nominal_kw: null,
});
const load = (file: Partial<TopologyFile>): TopologyFile => ({ transformers: [], meters: [], ...file });

describe('what a topology load may change (trespass)', () => {
  it('lets a tenant change its own rows and take unowned ones', () => {
    expect(
      trespass(
        load({
          transformers: [transformer('dt-b', { tenant: 'b' }), transformer('dt-new', { tenant: 'b' })],
          meters: [meter('m-new', 'dt-b'), meter('m-x', 'dt-new')],
          assets: [asset('bess-new', 'dt-b')],
        }),
        'b',
        now,
      ),
    ).toBeNull();
  });

  it("refuses moving another tenant's meter onto one's own DT (meter hijack), naming the meter", () => {
    expect(trespass(load({ meters: [meter('m-a', 'dt-b')] }), 'b', now)).toBe('meter "m-a"');
  });

  it("refuses moving another tenant's asset, and hanging a meter or asset on another tenant's DT", () => {
    expect(trespass(load({ assets: [asset('bess-a', 'dt-b')] }), 'b', now)).toBe('asset "bess-a"');
    expect(trespass(load({ meters: [meter('m-new', 'dt-a')] }), 'b', now)).toBe(
      'transformer "dt-a" (of meter "m-new")',
    );
    expect(trespass(load({ assets: [asset('bess-new', 'dt-a')] }), 'b', now)).toBe(
      'transformer "dt-a" (of asset "bess-new")',
    );
  });

  it("refuses redefining another tenant's DT, or naming another tenant, naming the first row", () => {
    expect(trespass(load({ transformers: [transformer('dt-a', { tenant: 'b' })] }), 'b', now)).toBe(
      'transformer "dt-a"',
    );
    expect(
      trespass(
        load({ transformers: [transformer('dt-new', { tenant: 'a' })], meters: [meter('m-a', 'dt-b')] }),
        'b',
        now,
      ),
    ).toBe('transformer "dt-new" (tenant "a")');
  });
});
