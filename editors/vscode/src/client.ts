// The language client: which documents go to the server, how it is started, and what happens when it cannot be.

import * as fs from "node:fs";
import * as vscode from "vscode";
import {
  CloseAction,
  type CloseHandlerResult,
  ErrorAction,
  type ErrorHandlerResult,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

import { currentMachine, describeCommand, resolveServerCommand, type ServerCommand, startFailureMessage } from "./config";

/** Notes in files and unsaved buffers, and the Markdown cells of notebooks. */
const LANGUAGES = ["markdown", "latex", "tex", "quarto", "rmd"];
export const DOCUMENT_SELECTOR = [
  ...LANGUAGES.flatMap((language) => [
    { scheme: "file", language },
    { scheme: "untitled", language },
  ]),
  { scheme: "vscode-notebook-cell", language: "markdown" },
];

const MAX_RESTARTS = 4;

/** The settings the server reads, as plain JSON (also sent as initialization options). */
function serverSettings(): unknown {
  return JSON.parse(JSON.stringify(vscode.workspace.getConfiguration("tensorlint"))) as unknown;
}

async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension("ms-python.python");
  if (extension === undefined) {
    return undefined;
  }
  try {
    const api = (await extension.activate()) as {
      environments?: { getActiveEnvironmentPath(resource?: vscode.Uri): { path?: string } };
    };
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    return api.environments?.getActiveEnvironmentPath(folder)?.path || undefined;
  } catch {
    return undefined;
  }
}

export async function serverCommand(): Promise<ServerCommand> {
  const settings = vscode.workspace.getConfiguration("tensorlint.server");
  const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
  const exists = (file: string) => {
    try {
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };
  const machine = currentMachine(folders, await pythonExtensionInterpreter(), exists);
  return resolveServerCommand(
    { path: settings.get<string[] | string>("path"), interpreter: settings.get<string>("interpreter") },
    machine,
  );
}

export function createClient(server: ServerCommand, output: vscode.OutputChannel): LanguageClient {
  // TransportKind.stdio adds --stdio to the arguments, which `tensorlint serve` accepts.
  const serverOptions: ServerOptions = {
    command: server.command,
    args: server.args,
    transport: TransportKind.stdio,
    options: { env: { ...process.env, PYTHONUNBUFFERED: "1" } },
  };
  let restarts = 0;
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR,
    outputChannel: output,
    initializationOptions: { settings: { tensorlint: serverSettings() } },
    synchronize: { configurationSection: "tensorlint" },
    initializationFailedHandler: (error) => {
      // Not retried: start() rejects and main.ts shows what was run and how to fix it.
      output.appendLine(`The server failed to initialize: ${String(error)}`);
      return false;
    },
    errorHandler: {
      error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue }),
      closed: (): CloseHandlerResult => {
        restarts += 1;
        if (restarts > MAX_RESTARTS) {
          void showStartFailure(server, `the server stopped ${restarts} times (see the output)`, output);
          return { action: CloseAction.DoNotRestart, handled: true };
        }
        return { action: CloseAction.Restart, handled: true };
      },
    },
  };
  return new LanguageClient("tensorlint", "tensorlint", serverOptions, clientOptions);
}

export async function showStartFailure(server: ServerCommand, reason: string, output: vscode.OutputChannel) {
  output.appendLine(`Could not start ${describeCommand(server)}: ${reason}`);
  const choice = await vscode.window.showErrorMessage(
    startFailureMessage(server, reason),
    "Open Settings",
    "Show Output",
  );
  if (choice === "Open Settings") {
    await vscode.commands.executeCommand("workbench.action.openSettings", "tensorlint.server");
  } else if (choice === "Show Output") {
    output.show();
  }
}
