/**
 * The API's answers as the console reads them: named views of the types generated from the OpenAPI document
 * (api.gen.ts, `npm run gen:console-types`), so a field the API renames breaks the type check, not the page.
 */
import type { paths } from './api.gen.js';

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;
type Get<P extends keyof paths> = paths[P] extends { get: { responses: { 200: infer R } } }
  ? JsonOf<R>
  : never;
type Post<P extends keyof paths> = paths[P] extends { post: { responses: { 200: infer R } } }
  ? JsonOf<R>
  : never;

export type Fleet = Get<'/v1/fleet'>;
export type FleetDt = Fleet['transformers'][number];
export type LoadProfile = Get<'/v1/dt/{id}/load-profile'>;
export type ProfileSlot = LoadProfile['slots'][number];
export type Stress = Get<'/v1/dt/{id}/stress'>;
export type Envelopes = Get<'/v1/dt/{id}/envelopes'>;
export type EnvelopeSlot = Envelopes['slots'][number];
export type DtMeters = Get<'/v1/dt/{id}/meters'>;
export type MeterLeg = DtMeters['meters'][number]['legs'][number];
export type DtDispatches = Get<'/v1/dt/{id}/dispatches'>;
export type HostingAnswer = Post<'/v1/dt/hosting-capacity'>;
export type RooftopAnswer = Post<'/v1/rooftop/sanction-check'>;
export type SiteScreenAnswer = Post<'/v1/ev/site-screen'>;
