/** The MQTT topic contract, version 1 (docs/api.md). */
export const MQTT_SUBSCRIPTIONS = [
  'gridstream/v1/meters/+/telemetry',
  'gridstream/v1/weather/+',
  'gridstream/v1/dispatch/+',
];

export type MqttTopic =
  | { kind: 'telemetry'; meterId: string }
  | { kind: 'weather'; stationId: string }
  | { kind: 'dispatch'; assetId: string };

// Ids are path segments: no wildcards, no slashes, no empty ids, at most 128 characters.
const ID = '([^/+#]{1,128})';
const TELEMETRY = new RegExp(`^gridstream/v1/meters/${ID}/telemetry$`);
const WEATHER = new RegExp(`^gridstream/v1/weather/${ID}$`);
const DISPATCH = new RegExp(`^gridstream/v1/dispatch/${ID}$`);

/** The topic a meter publishes its telemetry on. */
export const telemetryTopic = (meterId: string): string => `gridstream/v1/meters/${meterId}/telemetry`;

export function parseMqttTopic(topic: string): MqttTopic | null {
  let m = TELEMETRY.exec(topic);
  if (m) return { kind: 'telemetry', meterId: m[1]! };
  m = WEATHER.exec(topic);
  if (m) return { kind: 'weather', stationId: m[1]! };
  m = DISPATCH.exec(topic);
  if (m) return { kind: 'dispatch', assetId: m[1]! };
  return null;
}
