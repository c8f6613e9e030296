/**
 * Whether the local runtime runs in production's security shape (the default: Kafka over
 * SASL_SSL with MSK IAM, Redis over TLS with ACL users and the password from Secrets Manager) or
 * the fast plaintext path. One variable, SEQGUARD_PLAINTEXT, for the demo and the test suites.
 */
export function plaintextRequested(env: Record<string, string | undefined> = process.env): boolean {
  return /^(1|true)$/i.test(env.SEQGUARD_PLAINTEXT ?? '');
}
