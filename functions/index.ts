/**
 * `seqguard/functions`: the factories of the three Lambda functions, for a handler module of your
 * own, one that gives them your mutations (docs/your-own-mutation.md). Each
 * `functions/<name>/handler.ts` is the package's own: its factory, with the configuration read
 * from the environment at cold start. `SeqguardPipeline`'s `handlers` deploys yours instead.
 */
export {
  type ApplyEventsDependencies,
  createApplyEventsHandler,
} from './apply-events/create-handler.ts';
export {
  type CheckDriftDependencies,
  createCheckDriftHandler,
} from './check-drift/create-handler.ts';
export { createReplayHandler, type ReplayDependencies } from './replay/create-handler.ts';
