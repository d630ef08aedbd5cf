import { describe, expect, it } from 'vitest';
import { matchesFilter } from '../../io/broker/broker.js';

/** MQTT 3.1.1 section 4.7: `+` matches one level (an empty one too), `#` the parent level and every level below. */
describe('matchesFilter', () => {
  it.each([
    ['gridstream/v1/meters/+/telemetry', 'gridstream/v1/meters/m-1/telemetry', true],
    ['gridstream/v1/meters/+/telemetry', 'gridstream/v1/meters/m-1/telemetry/x', false],
    ['gridstream/v1/meters/+/telemetry', 'gridstream/v1/meters/telemetry', false],
    ['gridstream/v1/meters/+/telemetry', 'gridstream/v1/meters//telemetry', true],
    ['gridstream/v1/weather/+', 'gridstream/v1/weather/ws-1', true],
    ['gridstream/v1/weather/+', 'gridstream/v1/weather/', true],
    ['gridstream/v1/weather/+', 'gridstream/v1/weather', false],
    ['gridstream/v1/weather/+', 'gridstream/v1/weathe/ws-1', false],
    ['gridstream/v1/weather/+', 'gridstream/v1/weathers/ws-1', false],
    ['gridstream/#', 'gridstream', true],
    ['gridstream/#', 'gridstream/v1/meters/m-1/telemetry', true],
    ['gridstream/#', 'gridstreams/v1', false],
    ['#', 'a/b', true],
    ['+', 'a', true],
    ['+', 'a/b', false],
    ['+/+', '/', true],
    ['a/b', 'a/b', true],
    ['a/b', 'a/bc', false],
    ['a/bc', 'a/b', false],
    ['a/b', 'a/b/', false],
    ['a/b/', 'a/b', false],
    ['', '', true],
    ['', '/', false],
  ])('%s against %s: %s', (filter, topic, expected) => {
    expect(matchesFilter(filter, topic)).toBe(expected);
  });
});
