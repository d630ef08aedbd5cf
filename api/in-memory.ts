import type { ImpedanceStore } from './impedance-store.js';
import type { LoadProfileStore } from './load-profile-store.js';

/** What the topology table says of a DT: its tenant and feeder; undefined when the table does not know it. */
export type DtOf = (dtId: string) => { tenant: string; feeder: string } | undefined;

/** The stores the API answers from in memory (the api role; pipelines/serving-view.ts keeps them current). */
export interface InMemoryStores {
  loadProfiles: LoadProfileStore;
  impedance: ImpedanceStore;
}

/** An in-memory store as a route takes it: with the topology table's view of a DT, and a counter by source. */
export interface InMemory<Store> {
  store: Store;
  dtOf: DtOf;
  /** Counts an answer by where it was read. */
  served(source: 'memory' | 'warehouse'): void;
}
