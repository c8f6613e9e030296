/**
 * Errors of the scenarios (the demo, the soak), under the local runtime's base class so that
 * runMain() prints them by name and message: each explains itself.
 */
import { LocalRuntimeError } from '../emulators/errors.ts';

/** The demo cannot reach a server, or its pipeline makes no progress. */
export class DemoError extends LocalRuntimeError {}

/** The soak's run went wrong (a fault that did not take, a pipeline that stopped moving). */
export class SoakError extends LocalRuntimeError {}

/** The soak's producer process failed, or died more often than a run allows. */
export class ProducerProcessError extends LocalRuntimeError {}

/** The traffic made an event its model cannot take (one the guard would reject): a mistake of the traffic. */
export class TrafficModelError extends LocalRuntimeError {}
