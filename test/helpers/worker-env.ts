/**
 * Runs in every test worker before its files: when the suite's broker takes MSK IAM, the
 * standard AWS variables hold the credentials it checks tokens against, so every Kafka client
 * signs its tokens from the default provider chain, as a Lambda function does. They are fake
 * local credentials (LOCAL_AWS_CREDENTIALS): no test ever reaches AWS.
 */
import { inject } from 'vitest';

const listener = inject('kafkaMskIam');
if (listener) {
  process.env.AWS_ACCESS_KEY_ID = listener.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = listener.credentials.secretAccessKey;
  process.env.AWS_REGION = listener.credentials.region;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
}
