/**
 * Invokes a deployed function through the Lambda Invoke API instead of a child process: for a
 * LocalStack that runs functions (with Docker), whose free tier has no Kafka trigger, so that the
 * event source mapping emulator still drives the deployed `apply-events`. Synchronous
 * (RequestResponse) invocations, one batch each, as the Kafka ESM makes them.
 *
 * Lambda's answers map to the emulator's outcomes
 * (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html):
 * - no `X-Amz-Function-Error`: the payload is the function's response (JSON);
 * - `X-Amz-Function-Error` (Unhandled, Handled): a function error, with the payload's
 *   errorType / errorMessage;
 * - an error of the Invoke call itself (throttled, the function not Active, unreachable
 *   endpoint): also a function error, named after the API error, so the emulator retries and
 *   splits the batch as the ESM does when an invocation fails. LocalStack without Docker answers
 *   every Invoke with ResourceConflictException ("... in the following state: Failed").
 */
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import type { MSKEvent } from 'aws-lambda';
import type { InvokeOutcome } from './handler-process.ts';

export interface LambdaInvokerOptions {
  functionName: string;
  /**
   * The Lambda API endpoint, e.g. LocalStack's http://127.0.0.1:4566. Without it the SDK's own
   * configuration decides (AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, or AWS itself).
   */
  endpoint?: string;
  region: string;
  /** Without them, the SDK's default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface LambdaInvoker {
  invoke(event: MSKEvent): Promise<InvokeOutcome>;
  close(): void;
}

const decoder = new TextDecoder();

function parsePayload(payload: Uint8Array | undefined): unknown {
  const text = payload === undefined ? '' : decoder.decode(payload);
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function lambdaInvoker(options: LambdaInvokerOptions): LambdaInvoker {
  const client = new LambdaClient({
    region: options.region,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
  });
  return {
    async invoke(event) {
      let output: InvokeCommandOutput;
      try {
        output = await client.send(
          new InvokeCommand({
            FunctionName: options.functionName,
            InvocationType: 'RequestResponse',
            Payload: new TextEncoder().encode(JSON.stringify(event)),
          }),
        );
      } catch (error) {
        const { name, message } = error as Error;
        return { kind: 'functionError', errorType: name, errorMessage: message };
      }
      const payload = parsePayload(output.Payload);
      if (output.FunctionError === undefined) return { kind: 'response', response: payload };
      const { errorType, errorMessage } = (payload ?? {}) as {
        errorType?: unknown;
        errorMessage?: unknown;
      };
      return {
        kind: 'functionError',
        errorType: typeof errorType === 'string' ? errorType : output.FunctionError,
        errorMessage:
          typeof errorMessage === 'string' ? errorMessage : JSON.stringify(payload ?? null),
      };
    },
    close() {
      client.destroy();
    },
  };
}
