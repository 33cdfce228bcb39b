// The launch logic, without VS Code: which command starts the server on a given machine.

import * as assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  describeCommand,
  expandVariables,
  type Machine,
  probeInterpreter,
  resolveServerCommand,
  searchPath,
  startFailureMessage,
} from "../src/config";

function machine(overrides: Partial<Machine> & { files?: string[] } = {}): Machine {
  const files = new Set(overrides.files ?? []);
  return {
    platform: "linux",
    homeDirectory: "/home/ada",
    workspaceFolders: ["/work/notes"],
    exists: (file) => files.has(file),
    which: () => undefined,
    hasTensorlint: () => true,
    ...overrides,
  };
}

describe("resolveServerCommand", () => {
  it("runs the configured command as it is", () => {
    const server = resolveServerCommand({ path: ["/opt/tl/bin/tensorlint", "serve", "--log-level", "INFO"] }, machine());
    assert.equal(server.command, "/opt/tl/bin/tensorlint");
    assert.deepEqual(server.args, ["serve", "--log-level", "INFO"]);
    assert.equal(server.origin, "the setting tensorlint.server.path");
  });

  it("runs a configured executable alone with serve", () => {
    assert.deepEqual(resolveServerCommand({ path: ["~/bin/tensorlint"] }, machine()).args, ["serve"]);
    assert.equal(resolveServerCommand({ path: "~/bin/tensorlint" }, machine()).command, "/home/ada/bin/tensorlint");
  });

  it("ignores an empty path setting", () => {
    const server = resolveServerCommand({ path: ["", "  "], interpreter: "/usr/bin/python3.12" }, machine());
    assert.equal(server.command, "/usr/bin/python3.12");
    assert.deepEqual(server.args, ["-m", "tensorlint", "serve"]);
  });

  it("expands ${workspaceFolder} in the interpreter", () => {
    const server = resolveServerCommand({ interpreter: "${workspaceFolder}/env/bin/python" }, machine());
    assert.equal(server.command, "/work/notes/env/bin/python");
  });

  it("prefers the workspace's .venv over the Python extension and the PATH", () => {
    const server = resolveServerCommand(
      {},
      machine({
        files: ["/work/notes/.venv/bin/tensorlint"],
        pythonExtensionInterpreter: "/usr/bin/python3",
        which: () => "/usr/local/bin/tensorlint",
      }),
    );
    assert.equal(server.command, "/work/notes/.venv/bin/tensorlint");
    assert.equal(server.origin, "the workspace's .venv");
  });

  it("finds the .venv of a Windows workspace", () => {
    const server = resolveServerCommand(
      {},
      machine({
        platform: "win32",
        workspaceFolders: ["C:\\notes"],
        files: ["C:\\notes\\.venv\\Scripts\\tensorlint.exe"],
      }),
    );
    assert.equal(server.command, "C:\\notes\\.venv\\Scripts\\tensorlint.exe");
  });

  it("uses the Python extension's interpreter, then tensorlint on the PATH", () => {
    assert.deepEqual(resolveServerCommand({}, machine({ pythonExtensionInterpreter: "/py/bin/python" })), {
      command: "/py/bin/python",
      args: ["-m", "tensorlint", "serve"],
      origin: "the Python extension's interpreter",
    });
    const fromPath = resolveServerCommand({}, machine({ which: (name) => `/usr/local/bin/${name}` }));
    assert.deepEqual([fromPath.command, ...fromPath.args], ["/usr/local/bin/tensorlint", "serve"]);
  });

  it("falls back to tensorlint on the PATH when the selected interpreter lacks it", () => {
    const asked: string[] = [];
    const server = resolveServerCommand(
      {},
      machine({
        pythonExtensionInterpreter: "/project/.env/bin/python",
        hasTensorlint: (interpreter) => {
          asked.push(interpreter);
          return false;
        },
        which: (name) => (name === "tensorlint" ? "/home/ada/.local/bin/tensorlint" : undefined),
      }),
    );
    assert.deepEqual(asked, ["/project/.env/bin/python"]);
    assert.deepEqual([server.command, ...server.args], ["/home/ada/.local/bin/tensorlint", "serve"]);
    assert.match(server.origin, /PATH.*has no tensorlint/);
  });

  it("keeps the selected interpreter when it lacks tensorlint and the PATH has none either", () => {
    const server = resolveServerCommand(
      {},
      machine({ pythonExtensionInterpreter: "/py/bin/python", hasTensorlint: () => false }),
    );
    assert.deepEqual([server.command, ...server.args], ["/py/bin/python", "-m", "tensorlint", "serve"]);
    assert.match(server.origin, /has no tensorlint/);
  });

  it("does not ask an interpreter the settings name explicitly", () => {
    const server = resolveServerCommand(
      { interpreter: "/opt/py/bin/python" },
      machine({
        hasTensorlint: () => {
          throw new Error("not asked");
        },
      }),
    );
    assert.equal(server.command, "/opt/py/bin/python");
  });

  it("asks a real interpreter whether it has tensorlint", () => {
    assert.equal(probeInterpreter("/no/such/python"), false);
    assert.equal(probeInterpreter(process.execPath), false); // Node is no Python.
  });

  it("falls back to python3 -m tensorlint serve (python on Windows)", () => {
    assert.deepEqual(resolveServerCommand({}, machine()).command, "python3");
    assert.deepEqual(resolveServerCommand({}, machine({ platform: "win32" })).command, "python");
  });
});

describe("helpers", () => {
  it("expands ~ and ${userHome} but leaves other text alone", () => {
    const where = { homeDirectory: "/home/ada", workspaceFolders: [] };
    assert.equal(expandVariables("~", where), "/home/ada");
    assert.equal(expandVariables("${userHome}/x", where), "/home/ada/x");
    assert.equal(expandVariables("/a/~b/${workspaceFolder}", where), "/a/~b/${workspaceFolder}");
  });

  it("searches the PATH in order", () => {
    const files = new Set(["/b/tensorlint", "/c/tensorlint"]);
    assert.equal(searchPath("tensorlint", "/a::/b:/c", "linux", (file) => files.has(file)), "/b/tensorlint");
    assert.equal(searchPath("tensorlint", undefined, "linux", () => true), undefined);
  });

  it("says what was run and how to fix it when the server cannot start", () => {
    const server = { command: "/my env/python", args: ["-m", "tensorlint", "serve"], origin: "the PATH" };
    assert.equal(describeCommand(server), '"/my env/python" -m tensorlint serve');
    const message = startFailureMessage(server, "spawn /my env/python ENOENT");
    assert.match(message, /could not be started with `"\/my env\/python" -m tensorlint serve` \(from the PATH\)/);
    assert.match(message, /ENOENT/);
    assert.match(message, /pip install tensorlint`/);
  });
});
