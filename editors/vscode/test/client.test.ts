// The client module with a stand-in for the `vscode` module: the settings VS Code holds reach the launch logic,
// and the documents sent to the server are the notes (files, unsaved buffers, notebook Markdown cells).

import * as assert from "node:assert/strict";
import Module from "node:module";
import { before, describe, it } from "node:test";

type Settings = Record<string, Record<string, unknown>>;
const settings: Settings = { "tensorlint.server": {} };

/** Just enough of the VS Code API for client.ts and vscode-languageclient to load. */
function installVscodeStub(): void {
  const api = {
    version: "1.90.0",
    workspace: {
      workspaceFolders: [{ uri: { fsPath: "/work/notes" } }],
      getConfiguration: (section: string) => ({ get: (key: string) => settings[section]?.[key] }),
    },
    extensions: { getExtension: () => undefined },
  };
  // Anything else (classes vscode-languageclient extends at load time) is an empty class.
  const stub = new Proxy(api, { get: (target, key) => (key in target ? target[key as keyof typeof api] : class {}) });
  const loader = Module as unknown as {
    _resolveFilename(request: string, ...rest: unknown[]): string;
    _cache: Record<string, unknown>;
  };
  const resolve = loader._resolveFilename.bind(loader);
  loader._resolveFilename = (request: string, ...rest: unknown[]) =>
    request === "vscode" ? "vscode-stub" : resolve(request, ...rest);
  loader._cache["vscode-stub"] = { id: "vscode-stub", filename: "vscode-stub", loaded: true, exports: stub };
}

describe("client", () => {
  let client: typeof import("../src/client");

  before(async () => {
    installVscodeStub();
    client = await import("../src/client");
  });

  it("starts the command from tensorlint.server.path", async () => {
    settings["tensorlint.server"] = { path: ["${workspaceFolder}/tools/tensorlint", "serve"] };
    const server = await client.serverCommand();
    assert.deepEqual([server.command, ...server.args], ["/work/notes/tools/tensorlint", "serve"]);
  });

  it("starts python -m tensorlint serve from tensorlint.server.interpreter", async () => {
    settings["tensorlint.server"] = { path: [], interpreter: "/opt/python/bin/python3" };
    const server = await client.serverCommand();
    assert.deepEqual([server.command, ...server.args], ["/opt/python/bin/python3", "-m", "tensorlint", "serve"]);
  });

  it("sends notes in files, unsaved buffers and notebook Markdown cells", () => {
    const selected = client.DOCUMENT_SELECTOR.map((filter) => `${filter.scheme}:${filter.language}`);
    for (const language of ["markdown", "latex", "tex", "quarto", "rmd"]) {
      assert.ok(selected.includes(`file:${language}`), language);
      assert.ok(selected.includes(`untitled:${language}`), language);
    }
    assert.ok(selected.includes("vscode-notebook-cell:markdown"));
    assert.ok(!selected.some((entry) => entry.endsWith(":python")));
  });
});
