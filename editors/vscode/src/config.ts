// How to start the server, decided from the settings and what the machine has. Pure: no `vscode` import, so
// the launch logic is unit-tested with plain Node (test/config.test.ts).

import { spawnSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";

/** The `tensorlint.server.*` settings. */
export interface LaunchSettings {
  /** `["/path/tensorlint", "serve"]`, or a single executable that is run with `serve`. */
  path?: readonly string[] | string | null;
  /** A Python interpreter with tensorlint installed: run as `python -m tensorlint serve`. */
  interpreter?: string | null;
}

/** What the launch logic may look at, passed in so that tests can describe any machine. */
export interface Machine {
  platform: NodeJS.Platform;
  homeDirectory: string;
  workspaceFolders: readonly string[];
  /** The interpreter the Python extension selected for the workspace, when it is installed. */
  pythonExtensionInterpreter?: string;
  exists(file: string): boolean;
  /** The full path of an executable found on the PATH. */
  which(name: string): string | undefined;
  /** Whether a Python interpreter can run `-m tensorlint serve` (tensorlint and its server installed). */
  hasTensorlint(interpreter: string): boolean;
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** Where the command came from, for messages: "tensorlint.server.path", "the workspace's .venv", … */
  origin: string;
}

const SERVE = ["serve"];
const MODULE = ["-m", "tensorlint", "serve"];

/** The command that starts `tensorlint serve`, in order of preference:
 * 1. `tensorlint.server.path`; 2. `tensorlint.server.interpreter`; 3. a `.venv` in a workspace folder;
 * 4. the Python extension's interpreter, if tensorlint is installed in it; 5. `tensorlint` on the PATH;
 * 6. the Python extension's interpreter all the same; 7. `python3 -m tensorlint serve`. */
export function resolveServerCommand(settings: LaunchSettings, machine: Machine): ServerCommand {
  const expand = (value: string) => expandVariables(value, machine);

  const explicit = (typeof settings.path === "string" ? [settings.path] : [...(settings.path ?? [])])
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (explicit.length > 0) {
    const [command, ...args] = explicit.map(expand);
    return { command, args: args.length > 0 ? args : [...SERVE], origin: "the setting tensorlint.server.path" };
  }

  const interpreter = settings.interpreter?.trim();
  if (interpreter) {
    return { command: expand(interpreter), args: [...MODULE], origin: "the setting tensorlint.server.interpreter" };
  }

  for (const folder of machine.workspaceFolders) {
    const candidate = venvExecutable(folder, machine.platform);
    if (machine.exists(candidate)) {
      return { command: candidate, args: [...SERVE], origin: "the workspace's .venv" };
    }
  }

  // The interpreter selected in the Python extension is often the project's, without tensorlint: then the
  // `tensorlint` on the PATH (pipx, a user install) is used instead.
  const selected = machine.pythonExtensionInterpreter;
  if (selected && machine.hasTensorlint(selected)) {
    return { command: selected, args: [...MODULE], origin: "the Python extension's interpreter" };
  }

  const onPath = machine.which(machine.platform === "win32" ? "tensorlint.exe" : "tensorlint");
  if (onPath) {
    const origin = selected ? "the PATH (the Python extension's interpreter has no tensorlint)" : "the PATH";
    return { command: onPath, args: [...SERVE], origin };
  }

  if (selected) {
    // Nothing better: start it there, so that the failure names the interpreter to install tensorlint into.
    return {
      command: selected,
      args: [...MODULE],
      origin: "the Python extension's interpreter, which has no tensorlint",
    };
  }

  return {
    command: machine.platform === "win32" ? "python" : "python3",
    args: [...MODULE],
    origin: "the default Python on the PATH",
  };
}

/** `${workspaceFolder}`, `${userHome}` and a leading `~`, as in VS Code's own settings. */
export function expandVariables(value: string, machine: Pick<Machine, "homeDirectory" | "workspaceFolders">): string {
  let expanded = value.replace(/\$\{userHome\}/g, machine.homeDirectory);
  const folder = machine.workspaceFolders[0];
  if (folder !== undefined) {
    expanded = expanded.replace(/\$\{workspaceFolder\}/g, folder);
  }
  if (expanded === "~" || expanded.startsWith("~/") || expanded.startsWith("~\\")) {
    expanded = machine.homeDirectory + expanded.slice(1);
  }
  return expanded;
}

export function venvExecutable(folder: string, platform: NodeJS.Platform): string {
  return platform === "win32"
    ? path.win32.join(folder, ".venv", "Scripts", "tensorlint.exe")
    : path.posix.join(folder, ".venv", "bin", "tensorlint");
}

/** The command as a shell would show it. */
export function describeCommand(server: ServerCommand): string {
  return [server.command, ...server.args].map((part) => (/[\s"']/.test(part) ? JSON.stringify(part) : part)).join(" ");
}

/** The message shown when the server cannot be started, with what to do about it. */
export function startFailureMessage(server: ServerCommand, reason: string): string {
  return (
    `tensorlint: the language server could not be started with \`${describeCommand(server)}\` ` +
    `(from ${server.origin}): ${reason.trim() || "unknown error"}. ` +
    "Install it with `pip install tensorlint`, or set tensorlint.server.path or " +
    "tensorlint.server.interpreter to a Python environment that has it."
  );
}

/** A search of the PATH, for `Machine.which`. */
export function searchPath(
  name: string,
  environmentPath: string | undefined,
  platform: NodeJS.Platform,
  exists: (file: string) => boolean,
): string | undefined {
  const paths = platform === "win32" ? path.win32 : path.posix;
  for (const directory of (environmentPath ?? "").split(paths.delimiter)) {
    const candidate = paths.join(directory, name);
    if (directory.length > 0 && exists(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

/** Whether `interpreter` has tensorlint and its language server installed: asks it, within 10 s. */
export function probeInterpreter(interpreter: string): boolean {
  const check =
    "import importlib.util as u, sys; " +
    "sys.exit(0 if all(u.find_spec(m) for m in ('tensorlint.lsp', 'pygls', 'lsprotocol')) else 1)";
  try {
    const probe = spawnSync(interpreter, ["-c", check], { timeout: 10_000, stdio: "ignore", windowsHide: true });
    return probe.status === 0;
  } catch {
    return false;
  }
}

/** The real machine, for the extension. */
export function currentMachine(
  workspaceFolders: readonly string[],
  pythonExtensionInterpreter: string | undefined,
  exists: (file: string) => boolean,
): Machine {
  return {
    platform: process.platform,
    homeDirectory: os.homedir(),
    workspaceFolders,
    pythonExtensionInterpreter,
    exists,
    which: (name) => searchPath(name, process.env.PATH, process.platform, exists),
    hasTensorlint: probeInterpreter,
  };
}
