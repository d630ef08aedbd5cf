import type { DtOf } from '../core/topology.js';
import type { ImpedanceStore } from './impedance-store.js';
import type { LoadProfileStore } from './load-profile-store.js';

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
