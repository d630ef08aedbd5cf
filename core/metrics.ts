import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The Prometheus metrics operators alert on. One registry per pipeline instance, so tests can run several
 * pipelines in one process; `GET /metrics` serves it.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gridstream_process_' });
  const r = [registry];
  return {
    registry,
    mqttMessages: new Counter({
      name: 'gridstream_mqtt_messages_total',
      help: 'MQTT messages received, by topic kind',
      labelNames: ['kind'],
      registers: r,
    }),
    readingsIn: new Counter({
      name: 'gridstream_readings_ingested_total',
      help: 'Meter readings accepted onto the log',
      registers: r,
    }),
    parkedReleased: new Counter({
      name: 'gridstream_parked_readings_released_total',
      help: 'Parked readings (dead-lettered unknown_meter) put back on the log once a topology version placed their meter',
      registers: r,
    }),
    weatherIn: new Counter({
      name: 'gridstream_weather_ingested_total',
      help: 'Weather observations accepted onto the log',
      registers: r,
    }),
    dispatchesIn: new Counter({
      name: 'gridstream_dispatches_ingested_total',
      help: 'Dispatch commands accepted onto the log',
      registers: r,
    }),
    dispatchChecks: new Counter({
      name: 'gridstream_dispatch_checks_total',
      help: "Dispatch commands checked against their asset's period limits (NETWORK included), by verdict",
      labelNames: ['verdict'],
      registers: r,
    }),
    webhookDeliveries: new Counter({
      name: 'gridstream_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome: delivered, retrying (another attempt follows) or failed',
      labelNames: ['outcome'],
      registers: r,
    }),
    loadProfileResponses: new Counter({
      name: 'gridstream_api_load_profiles_total',
      help: 'Load-profile responses, by what they were read from: pieces (the stored DT-day pieces) or rows (the envelope rows)',
      labelNames: ['source'],
      registers: r,
    }),
    pieceCache: new Counter({
      name: 'gridstream_api_piece_cache_total',
      help: "Load-profile pieces (DT-days) a response needed, by where they came from: hit (the API's cache, still current) or miss (read from the warehouse)",
      labelNames: ['result'],
      registers: r,
    }),
    impedanceLookups: new Counter({
      name: 'gridstream_api_impedance_lookups_total',
      help: "On-demand impedance look-ups, by how they were answered: meters (the named meters' rows, filtered by the API) or query (the warehouse's whole query)",
      labelNames: ['source'],
      registers: r,
    }),
    deadLetters: new Counter({
      name: 'gridstream_dead_letters_total',
      help: 'Inputs dead-lettered, by reason code (unknown_meter = parked readings; processing_error = a log record a stage, task or table could not process)',
      labelNames: ['reason'],
      registers: r,
    }),
    slotsWritten: new Counter({
      name: 'gridstream_envelope_slots_written_total',
      help: 'DT envelope slot versions emitted',
      labelNames: ['final'],
      registers: r,
    }),
    tooLate: new Counter({
      name: 'gridstream_readings_too_late_total',
      help: 'Readings past the revision horizon of their slot (stored, slot not revised)',
      registers: r,
    }),
    slotsLoaded: new Counter({
      name: 'gridstream_envelope_slots_loaded_total',
      help: 'Released DT envelope slots rebuilt from the warehouse readings for a late reading',
      registers: r,
    }),
    impedanceLegDays: new Counter({
      name: 'gridstream_impedance_leg_days_total',
      help: 'Meter leg-days made final by the impedance processor, by outcome: published (a median with enough evidence) or insufficient (too few or too small current steps)',
      labelNames: ['outcome'],
      registers: r,
    }),
    impedanceFlags: new Counter({
      name: 'gridstream_impedance_flags_total',
      help: 'High-impedance flags raised, by kind (absolute, own_rise, peer_rise)',
      labelNames: ['kind'],
      registers: r,
    }),
    impedanceFlaggedLegs: new Gauge({
      name: 'gridstream_impedance_flagged_legs',
      help: 'Meter legs flagged for high impedance on the latest UTC day made final, by kind',
      labelNames: ['kind'],
      registers: r,
    }),
    impedanceTooLate: new Counter({
      name: 'gridstream_impedance_readings_too_late_total',
      help: 'Readings that arrived after their time was closed for impedance (stored, not used for impedance)',
      registers: r,
    }),
    stressSlots: new Counter({
      name: 'gridstream_stress_slots_total',
      help: 'DT slots through the stress processor, by outcome: processed (a dt_stress row) or skipped (a revision or an old slot, after the thermal state moved on; a DT without a usable nameplate)',
      labelNames: ['outcome'],
      registers: r,
    }),
    stressExceedances: new Counter({
      name: 'gridstream_stress_exceedances_total',
      help: 'DT slots that broke a limit, by kind: thermal (hot spot, top oil or load factor) or voltage (a customer outside the statutory band)',
      labelNames: ['kind'],
      registers: r,
    }),
    stressDtsAtRisk: new Gauge({
      name: 'gridstream_stress_dts_at_risk',
      help: 'DTs whose latest operating envelope forecasts a stress probability of at least 0.5 in some slot of the next 24 hours, by kind (thermal, voltage)',
      labelNames: ['kind'],
      registers: r,
    }),
    rowsInserted: new Counter({
      name: 'gridstream_warehouse_rows_inserted_total',
      help: 'Rows inserted into the warehouse, by table',
      labelNames: ['table'],
      registers: r,
    }),
    insertErrors: new Counter({
      name: 'gridstream_warehouse_insert_errors_total',
      help: 'Failed warehouse inserts (retried), by table',
      labelNames: ['table'],
      registers: r,
    }),
    insertSeconds: new Histogram({
      name: 'gridstream_warehouse_insert_seconds',
      help: 'Warehouse insert duration, by table',
      labelNames: ['table'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    consumerLag: new Gauge({
      name: 'gridstream_consumer_lag_records',
      help: 'Records on the log not yet read, by consumer group',
      labelNames: ['group'],
      registers: r,
    }),
    eventTimeLag: new Gauge({
      name: 'gridstream_event_time_lag_seconds',
      help: 'Wall clock minus the newest event time a processor has seen',
      labelNames: ['processor'],
      registers: r,
    }),
    assignedPartitions: new Gauge({
      name: 'gridstream_assigned_partitions',
      help: 'Log partitions this process owns, by consumer group (scale-out spreads them over processes)',
      labelNames: ['group'],
      registers: r,
    }),
    queueDepth: new Gauge({
      name: 'gridstream_queue_depth',
      help: 'Items waiting in an internal bounded queue',
      labelNames: ['queue'],
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Sets gridstream_event_time_lag_seconds of a processor from its partitions' stream times (wall clock − newest). */
export function observeEventTimeLag(
  metrics: Metrics,
  processor: string,
  states: ReadonlyMap<number, { streamTime: number }>,
): void {
  let newest = Number.NEGATIVE_INFINITY;
  for (const state of states.values()) newest = Math.max(newest, state.streamTime);
  if (Number.isFinite(newest)) metrics.eventTimeLag.set({ processor }, (Date.now() - newest) / 1000);
}
