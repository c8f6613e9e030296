/**
 * The CDK app (`npx cdk synth|deploy|destroy`; cdk.json runs `node lua/bundle.ts` first, so the
 * functions bundle the current Lua scripts). Settings come from CDK context: see
 * docs/deploying.md, "Settings".
 */
import { App } from 'aws-cdk-lib';
import { defineStacks } from './seqguard-app.ts';

const app = new App();
defineStacks(app);
app.synth();
