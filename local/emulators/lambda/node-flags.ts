/**
 * The V8 heap flags Lambda's Node.js runtime starts a function with. Its bootstrap
 * (/var/runtime/bootstrap in the public.ecr.aws/lambda/nodejs base images) sizes the heap from
 * the function's memory, AWS_LAMBDA_FUNCTION_MEMORY_SIZE in MiB, with integer division (`expr`):
 *
 *   new_space=$(expr $AWS_LAMBDA_FUNCTION_MEMORY_SIZE / 10)
 *   semi_space=$(expr $new_space / 2)
 *   old_space=$(expr $AWS_LAMBDA_FUNCTION_MEMORY_SIZE - $new_space)
 *   --max-semi-space-size=$semi_space --max-old-space-size=$old_space
 *
 * A process started with Node's defaults instead collects its young generation several times as
 * often as the function does on Lambda: a handler measured that way is slower than deployed.
 */
/**
 * `memoryMiB`: from 128 to 10,240 ("You can configure memory between 128 MB and 10,240 MB in
 * 1-MB increments", https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
 */
export function lambdaNodeFlags(memoryMiB: number): string[] {
  if (!Number.isInteger(memoryMiB) || memoryMiB < 128 || memoryMiB > 10_240) {
    throw new RangeError(`a Lambda function has 128 to 10,240 MiB of memory, not ${memoryMiB}`);
  }
  const newSpace = Math.floor(memoryMiB / 10);
  return [
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
    `--max-old-space-size=${memoryMiB - newSpace}`,
  ];
}
