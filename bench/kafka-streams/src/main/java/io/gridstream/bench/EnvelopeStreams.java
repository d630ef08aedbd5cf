package io.gridstream.bench;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The 15-minute DT envelope of gridstream's envelope stage (processors/load-envelope/, docs/methods/load-envelope.md)
 * as a Kafka Streams application, for bench/streams.ts: it reads gridstream.readings (MeterReadings or single
 * MeterReading records in the Confluent wire format: magic byte 0, 4-byte schema id, Avro binary, decoded with
 * Apache Avro's GenericDatumReader, no schema registry), keyed by DT id, and writes one JSON envelope per change
 * of a DT slot to its own topic.
 *
 * <p>The topology: the records' readings are split by slot (processValues: the key stays the DT id, so there is
 * no repartition), each piece stamped with its newest reading time (event time; stream time is the newest
 * reading time a task has seen, as gridstream's), then grouped by key into 15-minute tumbling event-time windows
 * with a grace period of the allowed lateness and aggregated into the slot's readings (a reading with the same
 * meter and time replaces the earlier one). Each update of the window store's cache flushed at a commit (every
 * second, gridstream's emit period) goes out as an envelope: the DT's one-minute series (each meter's mean per
 * minute, holding its last value through minutes without a reading and its first before its first), its mean,
 * min, max and p95 kW (linear interpolation between ranks) and import and export kWh.
 *
 * <p>Arguments: bootstrap input-topic output-topic application-id allowed-lateness-ms state-dir schemas-dir
 * meter-reading-schema-id meter-readings-schema-id changelog(true|false). It prints "running" once the
 * application runs and stops on SIGTERM.
 */
public final class EnvelopeStreams {
  static final long SLOT_MS = 900_000;
  static final long MINUTE_MS = 60_000;
  static final int MINUTES = 15;

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String input = args[1];
    String output = args[2];
    String applicationId = args[3];
    long latenessMs = Long.parseLong(args[4]);
    String stateDir = args[5];
    File schemas = new File(args[6]);
    int readingId = Integer.parseInt(args[7]);
    int readingsId = Integer.parseInt(args[8]);
    boolean changelog = Boolean.parseBoolean(args[9]);

    Schema.Parser parser = new Schema.Parser();
    Schema reading = parser.parse(new File(schemas, "meter-reading.avsc"));
    Schema readings = parser.parse(new File(schemas, "meter-readings.avsc"));

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
    props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

    Materialized<String, Agg, WindowStore<Bytes, byte[]>> store =
        Materialized.<String, Agg, WindowStore<Bytes, byte[]>>as("dt-slots")
            .withKeySerde(Serdes.String())
            .withValueSerde(new AggSerde());
    if (!changelog) store = store.withLoggingDisabled();

    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(input, Consumed.with(Serdes.String(), Serdes.ByteArray()))
        .processValues(() -> new SplitBySlot(reading, readings, readingId, readingsId))
        .groupByKey(Grouped.with(Serdes.String(), new PieceSerde()))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(SLOT_MS), Duration.ofMillis(latenessMs)))
        .aggregate(Agg::new, (dt, piece, agg) -> agg.add(piece), store)
        .toStream()
        .map((window, agg) -> KeyValue.pair(window.key(), agg.envelopeJson(window.key(), window.window().start())))
        .to(output, Produced.with(Serdes.String(), Serdes.String()));

    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener(
        (now, before) -> {
          if (now == KafkaStreams.State.RUNNING) System.out.println("running");
          if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) stopped.countDown();
        });
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  streams.close(Duration.ofSeconds(20));
                  stopped.countDown();
                }));
    streams.start();
    stopped.await();
  }

  /** One meter's readings of one slot from one record: offsets in the slot (ms) and kW. */
  static final class Piece {
    String meter;
    int n;
    int[] offsets;
    double[] p;

    Piece(String meter, int capacity) {
      this.meter = meter;
      this.offsets = new int[capacity];
      this.p = new double[capacity];
    }
  }

  /** Decodes a record and forwards its readings split by meter and slot, stamped with their newest time. */
  static final class SplitBySlot implements FixedKeyProcessor<String, byte[], Piece> {
    private final GenericDatumReader<GenericRecord> readingReader;
    private final GenericDatumReader<GenericRecord> readingsReader;
    private final int readingId;
    private final int readingsId;
    private FixedKeyProcessorContext<String, Piece> context;
    private BinaryDecoder decoder;
    private GenericRecord reused;
    private final List<GenericRecord> single = new ArrayList<>(1);

    SplitBySlot(Schema reading, Schema readings, int readingId, int readingsId) {
      this.readingReader = new GenericDatumReader<>(reading);
      this.readingsReader = new GenericDatumReader<>(readings);
      this.readingId = readingId;
      this.readingsId = readingsId;
    }

    @Override
    public void init(FixedKeyProcessorContext<String, Piece> context) {
      this.context = context;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void process(FixedKeyRecord<String, byte[]> record) {
      byte[] value = record.value();
      if (value == null || value.length < 5 || value[0] != 0) return;
      int id = ByteBuffer.wrap(value, 1, 4).getInt();
      decoder = DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, decoder);
      List<GenericRecord> list;
      try {
        if (id == readingsId) {
          reused = readingsReader.read(reused, decoder);
          list = (GenericData.Array<GenericRecord>) reused.get("readings");
        } else if (id == readingId) {
          single.clear();
          single.add(readingReader.read(null, decoder));
          list = single;
        } else return;
      } catch (java.io.IOException e) {
        return;
      }
      Piece piece = null;
      long slot = Long.MIN_VALUE;
      long newest = Long.MIN_VALUE;
      for (GenericRecord r : list) {
        String meter = r.get("meter_id").toString();
        long ts = (Long) r.get("ts");
        double p = (Double) r.get("p_kw");
        long start = Math.floorDiv(ts, SLOT_MS) * SLOT_MS;
        if (piece == null || start != slot || !piece.meter.equals(meter)) {
          if (piece != null) context.forward(record.withValue(piece).withTimestamp(newest));
          piece = new Piece(meter, list.size());
          slot = start;
          newest = ts;
        }
        piece.offsets[piece.n] = (int) (ts - start);
        piece.p[piece.n++] = p;
        newest = Math.max(newest, ts);
      }
      if (piece != null) context.forward(record.withValue(piece).withTimestamp(newest));
    }
  }

  /** A DT slot's readings: per meter (in first-seen order), offsets sorted ascending with their kW. */
  static final class Agg {
    final ArrayList<Piece> meters = new ArrayList<>();
    final HashMap<String, Piece> byId = new HashMap<>();

    Agg add(Piece piece) {
      Piece rows = byId.get(piece.meter);
      if (rows == null) {
        rows = new Piece(piece.meter, Math.max(4, piece.n));
        meters.add(rows);
        byId.put(piece.meter, rows);
      }
      for (int k = 0; k < piece.n; k++) put(rows, piece.offsets[k], piece.p[k]);
      return this;
    }

    /** Last write wins for the same meter and time. */
    private static void put(Piece rows, int offset, double p) {
      int at = Arrays.binarySearch(rows.offsets, 0, rows.n, offset);
      if (at >= 0) {
        rows.p[at] = p;
        return;
      }
      at = -at - 1;
      if (rows.n == rows.offsets.length) {
        rows.offsets = Arrays.copyOf(rows.offsets, rows.n * 2);
        rows.p = Arrays.copyOf(rows.p, rows.n * 2);
      }
      System.arraycopy(rows.offsets, at, rows.offsets, at + 1, rows.n - at);
      System.arraycopy(rows.p, at, rows.p, at + 1, rows.n - at);
      rows.offsets[at] = offset;
      rows.p[at] = p;
      rows.n++;
    }

    String envelopeJson(String dt, long slotStart) {
      double[] series = new double[MINUTES];
      double[] sum = new double[MINUTES];
      int[] count = new int[MINUTES];
      int readings = 0;
      for (Piece rows : meters) {
        Arrays.fill(sum, 0);
        Arrays.fill(count, 0);
        for (int k = 0; k < rows.n; k++) {
          int minute = (int) Math.min(MINUTES - 1, rows.offsets[k] / MINUTE_MS);
          sum[minute] += rows.p[k];
          count[minute]++;
        }
        readings += rows.n;
        double held = Double.NaN;
        for (int m = 0; m < MINUTES && Double.isNaN(held); m++) if (count[m] > 0) held = sum[m] / count[m];
        for (int m = 0; m < MINUTES; m++) {
          if (count[m] > 0) held = sum[m] / count[m];
          series[m] += held;
        }
      }
      double total = 0;
      double importKwh = 0;
      double exportKwh = 0;
      for (double kw : series) {
        total += kw;
        if (kw > 0) importKwh += kw / 60;
        else exportKwh -= kw / 60;
      }
      double[] sorted = series.clone();
      Arrays.sort(sorted);
      double rank = 0.95 * (MINUTES - 1);
      int low = (int) Math.floor(rank);
      int high = Math.min(low + 1, MINUTES - 1);
      double p95 = sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
      return "{\"dt_id\":\"" + dt + "\",\"slot_start\":" + slotStart
          + ",\"net_mean_kw\":" + total / MINUTES
          + ",\"min_kw\":" + sorted[0]
          + ",\"max_kw\":" + sorted[MINUTES - 1]
          + ",\"p95_kw\":" + p95
          + ",\"import_kwh\":" + importKwh
          + ",\"export_kwh\":" + exportKwh
          + ",\"meters_reporting\":" + meters.size()
          + ",\"readings\":" + readings + "}";
    }
  }

  /** A meter's rows: id length, id (UTF-8), readings, then each reading's offset and kW. */
  static int rowsSize(byte[] id, Piece rows) {
    return 2 + id.length + 4 + 12 * rows.n;
  }

  static void writeRows(ByteBuffer out, byte[] id, Piece rows) {
    out.putShort((short) id.length).put(id).putInt(rows.n);
    for (int k = 0; k < rows.n; k++) out.putInt(rows.offsets[k]).putDouble(rows.p[k]);
  }

  static Piece readRows(ByteBuffer in) {
    byte[] id = new byte[in.getShort()];
    in.get(id);
    int n = in.getInt();
    Piece rows = new Piece(new String(id, StandardCharsets.UTF_8), Math.max(4, n));
    rows.n = n;
    for (int k = 0; k < n; k++) {
      rows.offsets[k] = in.getInt();
      rows.p[k] = in.getDouble();
    }
    return rows;
  }

  /** The meter count, then each meter's rows. */
  static final class AggSerde implements Serde<Agg> {
    @Override
    public Serializer<Agg> serializer() {
      return (topic, agg) -> {
        if (agg == null) return null;
        int size = 4;
        byte[][] ids = new byte[agg.meters.size()][];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = agg.meters.get(i).meter.getBytes(StandardCharsets.UTF_8);
          size += rowsSize(ids[i], agg.meters.get(i));
        }
        ByteBuffer out = ByteBuffer.allocate(size);
        out.putInt(ids.length);
        for (int i = 0; i < ids.length; i++) writeRows(out, ids[i], agg.meters.get(i));
        return out.array();
      };
    }

    @Override
    public Deserializer<Agg> deserializer() {
      return (topic, bytes) -> {
        if (bytes == null) return null;
        ByteBuffer in = ByteBuffer.wrap(bytes);
        Agg agg = new Agg();
        int meters = in.getInt();
        for (int i = 0; i < meters; i++) {
          Piece rows = readRows(in);
          agg.meters.add(rows);
          agg.byId.put(rows.meter, rows);
        }
        return agg;
      };
    }
  }

  /** Only for a repartition, which this topology does not have (the key stays the DT id). */
  static final class PieceSerde implements Serde<Piece> {
    @Override
    public Serializer<Piece> serializer() {
      return (topic, piece) -> {
        byte[] id = piece.meter.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(rowsSize(id, piece));
        writeRows(out, id, piece);
        return out.array();
      };
    }

    @Override
    public Deserializer<Piece> deserializer() {
      return (topic, bytes) -> readRows(ByteBuffer.wrap(bytes));
    }
  }
}
