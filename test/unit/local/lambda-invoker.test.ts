/**
 * lambdaInvoker() against a real HTTP server that answers as the Lambda Invoke API does
 * (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html): POST
 * /2015-03-31/functions/<name>/invocations, the payload as the body, X-Amz-Function-Error on a
 * function error, x-amzn-ErrorType and a JSON body on an API error.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MSKEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { lambdaInvoker } from '../../../local/emulators/lambda/lambda-invoker.ts';

const event: MSKEvent = {
  eventSource: 'aws:kafka',
  eventSourceArn:
    'arn:aws:kafka:us-east-1:000000000000:cluster/seqguard-kafka/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-1',
  bootstrapServers: '127.0.0.1:9092',
  records: {
    'seqguard.events-0': [
      {
        topic: 'seqguard.events',
        partition: 0,
        offset: 7,
        timestamp: 1_700_000_000_000,
        timestampType: 'CREATE_TIME' as const,
        key: '',
        value: Buffer.from('{"id":"a"}').toString('base64'),
        headers: [],
      },
    ],
  },
};

interface Seen {
  method: string | undefined;
  url: string | undefined;
  invocationType: string | string[] | undefined;
  body: unknown;
}

let server: Server | undefined;

async function lambdaApi(
  answer: (response: ServerResponse) => void,
): Promise<{ endpoint: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({
        method: request.method,
        url: request.url,
        invocationType: request.headers['x-amz-invocation-type'],
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      answer(response);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, seen };
}

function invoker(endpoint: string) {
  return lambdaInvoker({
    functionName: 'seqguard-apply-events',
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

afterEach(async () => {
  server?.close();
  server = undefined;
});

describe('lambdaInvoker()', () => {
  it('posts the MSK event to the function and returns its batch response', async () => {
    // Prepare
    const batchResponse = {
      batchItemFailures: [{ itemIdentifier: { partition: 'seqguard.events-0', offset: 7 } }],
    };
    const { endpoint, seen } = await lambdaApi((response) => {
      response.writeHead(200, {
        'Content-Type': 'application/json',
        'X-Amz-Executed-Version': '$LATEST',
      });
      response.end(JSON.stringify(batchResponse));
    });
    const lambda = invoker(endpoint);

    // Act
    const outcome = await lambda.invoke(event);
    lambda.close();

    // Assess
    expect(outcome).toEqual({ kind: 'response', response: batchResponse });
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/2015-03-31/functions/seqguard-apply-events/invocations',
        invocationType: 'RequestResponse',
        body: event,
      },
    ]);
  });

  it("maps X-Amz-Function-Error to a function error with the payload's type and message", async () => {
    // Prepare
    const { endpoint } = await lambdaApi((response) => {
      response.writeHead(200, {
        'Content-Type': 'application/json',
        'X-Amz-Function-Error': 'Unhandled',
      });
      response.end(
        JSON.stringify({
          errorType: 'RedisTimeoutError',
          errorMessage: 'EVALSHA timed out',
          trace: [],
        }),
      );
    });
    const lambda = invoker(endpoint);

    // Act
    const outcome = await lambda.invoke(event);
    lambda.close();

    // Assess
    expect(outcome).toEqual({
      kind: 'functionError',
      errorType: 'RedisTimeoutError',
      errorMessage: 'EVALSHA timed out',
    });
  });

  it('surfaces a refused Invoke (a function that is not Active) as a function error', async () => {
    // Prepare: LocalStack 4.14 without Docker answers so for every function.
    const message =
      'The operation cannot be performed at this time. The function is currently in the following state: Failed';
    const { endpoint } = await lambdaApi((response) => {
      response.writeHead(409, {
        'Content-Type': 'application/json',
        'x-amzn-ErrorType': 'ResourceConflictException',
      });
      response.end(JSON.stringify({ Type: 'User', message }));
    });
    const lambda = invoker(endpoint);

    // Act
    const outcome = await lambda.invoke(event);
    lambda.close();

    // Assess
    expect(outcome).toEqual({
      kind: 'functionError',
      errorType: 'ResourceConflictException',
      errorMessage: message,
    });
  });
});
