import { describe, expect, it } from 'vitest';

import { interfaceRow } from '../../api/routes/impedance-compat.js';

const ROW = {
  MeterLeg: 6,
  MedianImpedance: 44.383341234,
  EventDate: '2024-07-02',
  ReceivedTime: '2024-07-02T00:29:55.550Z',
  EventCount: 3,
  ServicePointId: null,
  MeterId: 'm-1',
  MeterNumber: null,
  ElectronicSerialNumber: '2.16.840.1.114416.15.80.1000634831',
  TransformerId: 'dt-1',
  PremiseId: null,
};

describe('an impedance row as the impedance-statistics interface answers it', () => {
  it("has the interface's keys in its order and spelling, -- for what is missing, no null", () => {
    expect(interfaceRow(ROW)).toEqual({
      MeterLeg: 6,
      MedianImpedance: 44.38334,
      EventDate: '2024-07-02',
      RecievedTime: '2024-07-02T00:29:55.55Z',
      EventCount: 3,
      ServicePointId: '--',
      MeterId: 'm-1',
      MeterNumber: '--',
      ElectronicSerialNumber: '2.16.840.1.114416.15.80.1000634831',
      TransformerId: 'dt-1',
      PremiseId: '--',
    });
    expect(Object.keys(interfaceRow(ROW))).toEqual([
      'MeterLeg',
      'MedianImpedance',
      'EventDate',
      'RecievedTime',
      'EventCount',
      'ServicePointId',
      'MeterId',
      'MeterNumber',
      'ElectronicSerialNumber',
      'TransformerId',
      'PremiseId',
    ]);
  });

  it.each([
    [128.11666666, 128.1167],
    [176.55, 176.55],
    [34.233333333, 34.23333],
    [1234567.89, 1234568],
  ])('rounds the median %f to 7 significant digits (%f)', (median, want) => {
    expect(interfaceRow({ ...ROW, MedianImpedance: median }).MedianImpedance).toBe(want);
  });

  it.each([
    ['2024-07-02T00:29:55.550Z', '2024-07-02T00:29:55.55Z'],
    ['2024-07-02T00:29:55.123Z', '2024-07-02T00:29:55.123Z'],
    ['2024-07-02T00:29:55.100Z', '2024-07-02T00:29:55.1Z'],
    ['2024-07-02T00:29:55.000Z', '2024-07-02T00:29:55Z'],
  ])('writes the receive time %s as %s', (received, want) => {
    expect(interfaceRow({ ...ROW, ReceivedTime: received }).RecievedTime).toBe(want);
  });
});
