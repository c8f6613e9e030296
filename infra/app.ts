/**
 * The CDK app (`npx cdk synth|deploy|destroy`; cdk.json runs `npm run lua` first, so the
 * functions bundle the current Lua scripts). Settings come from CDK context: see README
 * "Deploying to AWS".
 */
import { App } from 'aws-cdk-lib';
import { defineStacks } from './seqguard-app.ts';

const app = new App();
defineStacks(app);
app.synth();
