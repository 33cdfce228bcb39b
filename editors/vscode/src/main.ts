// The extension's entry points: start the client when a note is opened, restart it on demand or when the
// server command changes, stop it on shutdown.

import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";

import { createClient, serverCommand, showStartFailure } from "./client";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("tensorlint");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("tensorlint.restartServer", restart),
    vscode.commands.registerCommand("tensorlint.showOutput", () => output?.show()),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("tensorlint.server")) {
        await restart();
      }
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await stop();
}

async function start(): Promise<void> {
  if (output === undefined) {
    return;
  }
  const server = await serverCommand();
  output.appendLine(`Starting ${[server.command, ...server.args].join(" ")} (from ${server.origin})`);
  const starting = createClient(server, output);
  try {
    await starting.start();
    client = starting;
  } catch (error) {
    // A missing executable or a crash at start-up: say what was run and how to fix it.
    await starting.dispose().catch(() => undefined);
    await showStartFailure(server, error instanceof Error ? error.message : String(error), output);
  }
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  if (running !== undefined) {
    try {
      await running.stop();
    } catch {
      // The server may already be gone; there is nothing left to stop.
    }
  }
}

async function restart(): Promise<void> {
  await stop();
  await start();
}
