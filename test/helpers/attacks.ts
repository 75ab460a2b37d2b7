/** Counts the attack cases a security test file tries, and prints the count when the file ends. */
import test from "ava";

export function attackCounter(family: string): { count(n?: number): void } {
  let cases = 0;
  test.after.always(() => {
    process.stdout.write(`security/${family}: ${cases} attack cases tried\n`);
  });
  return { count: (n = 1) => void (cases += n) };
}
