/**
 * The functions can read the Redis password: for every function of the stacks that reads a Redis
 * secret (SEQGUARD_REDIS_AUTH_SECRET_ARN in its environment), IAM's policy simulator says its
 * execution role is allowed secretsmanager:GetSecretValue on that secret, and kms:Decrypt on the
 * secret's customer managed key when it has one, through Secrets Manager (the kms:ViaService
 * condition the grant carries, infra/constructs/redis-client.ts). Otherwise every cold start
 * fails. Simulation: IAM API reference, SimulatePrincipalPolicy,
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html; what
 * reading a secret needs: Secrets Manager user guide, "Authentication and access control",
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access.html.
 */
import { type ContextEntry, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import {
  type CheckResult,
  type DoctorContext,
  fail,
  pass,
  resourcesOfType,
  skip,
} from './model.ts';

const id = 'redis-secret';
const title = 'Redis secret access';

export const secretVariable = 'SEQGUARD_REDIS_AUTH_SECRET_ARN';

interface Reader {
  functionName: string;
  roleArn: string;
  secretArn: string;
}

async function readers(context: DoctorContext): Promise<Reader[]> {
  const names = resourcesOfType(context.deployment, 'AWS::Lambda::Function').map(
    (r) => r.physicalId,
  );
  const found: Reader[] = [];
  for (const functionName of names) {
    const config = await context.clients.lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: functionName }),
    );
    const secretArn = config.Environment?.Variables?.[secretVariable];
    if (secretArn && config.Role) found.push({ functionName, roleArn: config.Role, secretArn });
  }
  return found;
}

/** The key's ARN from DescribeSecret's KmsKeyId, which may be an ARN, a key id or an alias. */
function keyArn(secretArn: string, kmsKeyId: string | undefined): string | undefined {
  // No KmsKeyId, or the AWS managed key: Secrets Manager decrypts with it for any caller that
  // may read the secret (no key policy of ours to satisfy).
  if (kmsKeyId === undefined || kmsKeyId === '' || kmsKeyId === 'alias/aws/secretsmanager')
    return undefined;
  if (kmsKeyId.startsWith('arn:')) return kmsKeyId;
  const [, partition, , region, account] = secretArn.split(':');
  return `arn:${partition}:kms:${region}:${account}:${kmsKeyId.startsWith('alias/') ? kmsKeyId : `key/${kmsKeyId}`}`;
}

async function allowed(
  context: DoctorContext,
  roleArn: string,
  action: string,
  resource: string,
  contextEntries: ContextEntry[] = [],
): Promise<string> {
  const { EvaluationResults = [] } = await context.clients.iam.send(
    new SimulatePrincipalPolicyCommand({
      PolicySourceArn: roleArn,
      ActionNames: [action],
      ResourceArns: [resource],
      ContextEntries: contextEntries,
    }),
  );
  return EvaluationResults[0]?.EvalDecision ?? 'no decision';
}

export async function checkRedisSecret(context: DoctorContext): Promise<CheckResult> {
  const found = await readers(context);
  if (found.length === 0)
    return skip(id, title, `no function of the stacks has ${secretVariable} (no Redis secret)`);
  const problems: string[] = [];
  const checked = new Set<string>();
  for (const { functionName, roleArn, secretArn } of found) {
    const key = `${roleArn} ${secretArn}`;
    if (checked.has(key)) continue;
    checked.add(key);
    const role = roleArn.split('/').at(-1);
    const read = await allowed(context, roleArn, 'secretsmanager:GetSecretValue', secretArn);
    if (read !== 'allowed')
      problems.push(`${functionName} (role ${role}): GetSecretValue is ${read}`);
    const { KmsKeyId } = await context.clients.secrets.send(
      new DescribeSecretCommand({ SecretId: secretArn }),
    );
    const kmsKey = keyArn(secretArn, KmsKeyId);
    if (kmsKey === undefined) continue;
    const region = secretArn.split(':')[3];
    const decrypt = await allowed(context, roleArn, 'kms:Decrypt', kmsKey, [
      {
        ContextKeyName: 'kms:ViaService',
        ContextKeyType: 'string',
        ContextKeyValues: [`secretsmanager.${region}.amazonaws.com`],
      },
    ]);
    if (decrypt !== 'allowed')
      problems.push(`${functionName} (role ${role}): kms:Decrypt on ${kmsKey} is ${decrypt}`);
  }
  if (problems.length > 0)
    return fail(
      id,
      title,
      problems.join('; '),
      "grant the role GetSecretValue on the secret and kms:Decrypt on its key via Secrets Manager (bindRedisClient does both; with clusters of your own, check existing.redis.authSecretArn and authSecretKeyArn), and check the key's policy",
    );
  return pass(
    id,
    title,
    `${checked.size} role/secret pair(s) allowed: ${[...new Set(found.map((f) => f.functionName))].join(', ')}`,
  );
}
