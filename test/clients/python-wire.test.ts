/**
 * The Python package's own unit tests (clients/python/tests), run with Debian's python3:
 * the wire module (frames, pieces both ways at a small frame size, manifests, id lists,
 * malformed input), invites and keys, the replica, the transport's Link (order, sending
 * again on a new connection, a burst's cost), and the client against a fake server that
 * loses events, replaces its subscriber port, falls silent or sends junk on cue.
 */
import test from "ava";
import { fileURLToPath } from "node:url";
import { PYTHON } from "../helpers/python.js";
import { runToEnd } from "../helpers/run.js";

const PACKAGE = fileURLToPath(new URL("../../../clients/python", import.meta.url));
const MODULES = ["test_wire", "test_invite", "test_replica", "test_transport", "test_client"];

test("the Python package's unit tests pass", async (t) => {
  t.timeout(100_000);
  // -B: no __pycache__ left in the source tree.
  const result = await runToEnd(PYTHON, ["-B", "-m", "unittest", "discover", "-v"], {
    what: `${PYTHON} -m unittest (needs python3-zmq and python3-nacl)`,
    cwd: PACKAGE,
    timeoutMs: 90_000,
  });
  if (/ModuleNotFoundError: No module named '(zmq|nacl)'/.test(result.stderr))
    t.fail("Debian's python3-zmq and python3-nacl are needed: apt-get install -y python3-zmq python3-nacl");
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, /\nOK\s*$/);
  // Every module ran: a test file that fails to import, or is not found, cannot pass unseen.
  for (const module of MODULES) t.regex(result.stderr, new RegExp(`\\(tests\\.${module}\\.\\w+(\\.\\w+)?\\) \\.\\.\\. ok`), module);
  t.true(Number(/Ran (\d+) tests/.exec(result.stderr)?.[1]) >= 70, result.stderr);
});
