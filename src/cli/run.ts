/**
 * The imago command tree and the one place errors become output: an ImagoError prints one
 * stderr line and exits with its code (usage errors: 2, with a hint), anything else is an
 * "Internal error" (stack only with IMAGO_DEBUG=1). Command bodies load on demand from
 * ./commands/, each through a static import() so the bundler includes them.
 */
import process from "node:process";
import { Readable } from "node:stream";
import { Command, CommanderError, Option } from "commander";
import { ImagoError, UsageError } from "../core/errors.ts";
import { configDir as configHome } from "../core/remotes_config.ts";
import { defaultStoreDir, type Store } from "../core/store.ts";
import { VERSION } from "../version.ts";
import type { CliIO, CommandAction, CommandContext, GlobalOptions, Plugins } from "./context.ts";
import { fsError } from "./files.ts";
import { createLogger, logLevel } from "./log.ts";
import { FORMATS } from "./output.ts";
import { createProgress } from "./progress.ts";

export type { CliIO, CommandContext };

type Loader = () => Promise<{ action: CommandAction }>;

/** Per-run state: the open store and which command is running (for usage hints). */
class Session {
  readonly io: CliIO;
  running?: Command;
  failed?: Command;
  #store?: Promise<Store>;
  #plugins?: Promise<Plugins>;

  constructor(io: CliIO) {
    this.io = io;
  }

  context(globals: GlobalOptions): CommandContext {
    const io = this.io;
    const log = createLogger(io.stderr, logLevel(io.env, globals));
    const storeDir = globals.store || defaultStoreDir(io.env);
    const configDir = configHome(io.env);
    const plugins = () =>
      this.#plugins ??= import("./plugin_setup.ts").then((m) =>
        m.loadCliPlugins(configDir, globals.plugins, log)
      );
    return {
      io,
      globals,
      log,
      storeDir,
      configDir,
      plugins,
      store: (opts) => {
        this.#store ??= (async () => {
          const { Store } = await import("../core/store.ts");
          const { compressors } = await plugins();
          log.debug(`Opening store "${storeDir}"`);
          try {
            return await Store.open(storeDir, { ...opts, compressors });
          } catch (err) {
            throw fsError(err, `Cannot open the store "${storeDir}"`);
          }
        })();
        return this.#store;
      },
      print: (text) => io.stdout(text.endsWith("\n") ? text : `${text}\n`),
      progress: (label, total) =>
        createProgress({
          write: io.stderr,
          enabled: io.stderrIsTTY && !globals.quiet,
          label,
          total,
        }),
    };
  }

  bind(load: Loader) {
    return async (...args: unknown[]) => {
      const cmd = args.pop() as Command;
      const opts = args.pop();
      this.running = cmd;
      const ctx = this.context(cmd.optsWithGlobals() as GlobalOptions);
      const { action } = await load();
      await action(ctx, ...(args as never[]), opts as never);
    };
  }

  async close(): Promise<void> {
    const store = await this.#store?.catch(() => undefined);
    store?.close();
  }
}

const collect = (value: string, previous: string[]) => [...previous, value];
const formatOption = (allowed: readonly string[]) =>
  new Option("-f, --format <format>", "output format").choices(allowed).default("table");

function declare(program: Command, s: Session): void {
  program.command("import").description("Import a unified image, or a split one (two files)")
    .argument("<tarball>", "unified image, or metadata tarball of a split image")
    .argument("[rootfs]", "rootfs of a split image (tarball, squashfs or qcow2)")
    .option("--alias <name>", "add an alias (repeatable)", collect, [])
    .option("--public", "make the image public", false)
    .addOption(
      new Option(
        "--check <level>",
        "full: decompress and check every tar entry; metadata: read up to metadata.yaml, " +
          "as LXD does (entries are checked when unpacked)",
      ).choices(["full", "metadata"]).default("full"),
    )
    .addOption(formatOption(["table", "json", "yaml"]))
    .action(s.bind(() => import("./commands/image_import.ts")));
  program.command("list").alias("ls").description("List images")
    .argument("[filters...]", "alias or fingerprint part, or key=value")
    .option("-c, --columns <letters>", "columns (lLfFpdastu)", "lfpdatsu")
    .addOption(formatOption(FORMATS))
    .action(s.bind(() => import("./commands/image_list.ts")));
  program.command("info").description("Show useful information about an image")
    .argument("<image>", "alias, fingerprint or unique fingerprint prefix")
    .action(s.bind(() => import("./commands/image_info.ts")));
  program.command("show").description("Show the editable image properties as YAML")
    .argument("<image>", "alias, fingerprint or unique fingerprint prefix")
    .action(s.bind(() => import("./commands/image_show.ts")));
  program.command("edit").description("Edit image properties (YAML from stdin or an editor)")
    .argument("<image>", "alias, fingerprint or unique fingerprint prefix")
    .action(s.bind(() => import("./commands/image_edit.ts")));
  program.command("delete").alias("rm").description("Delete images")
    .argument("<images...>", "aliases or fingerprints")
    .action(s.bind(() => import("./commands/image_delete.ts")));
  program.command("export").description("Export an image to files, named as lxc names them")
    .argument("<image>", "alias, fingerprint or unique fingerprint prefix")
    .argument("[target]", "folder (default: current) or file name")
    .action(s.bind(() => import("./commands/image_export.ts")));
  program.command("build").description("Build an image from a folder")
    .argument("<dir>", "folder holding metadata.yaml, rootfs/ and templates/")
    .option("--split", "write a split image (metadata + rootfs)", false)
    .option("--compression <algo>", "compression algorithm")
    .option("--alias <name>", "add an alias (repeatable)", collect, [])
    .option("--public", "make the image public", false)
    .addOption(formatOption(["table", "json"]))
    .action(s.bind(() => import("./commands/build.ts")));
  declareUnpackCommands(program, s);

  const alias = program.command("alias").description("Manage image aliases");
  alias.command("create").description("Create an alias for an image")
    .argument("<name>", "alias name").argument("<image>", "alias or fingerprint")
    .option("--description <text>", "alias description", "")
    .action(s.bind(() => import("./commands/alias_create.ts")));
  alias.command("delete").alias("rm").description("Delete an alias")
    .argument("<name>", "alias name")
    .action(s.bind(() => import("./commands/alias_delete.ts")));
  alias.command("rename").alias("mv").description("Rename an alias")
    .argument("<old>", "alias name").argument("<new>", "new name")
    .action(s.bind(() => import("./commands/alias_rename.ts")));
  alias.command("list").alias("ls").description("List aliases")
    .argument("[filters...]", "part of an alias name or fingerprint (any may match)")
    .addOption(formatOption(FORMATS))
    .action(s.bind(() => import("./commands/alias_list.ts")));

  program.command("serve").description("Serve public images to lxc, LXD and Incus clients")
    .option("--listen <addr:port>", "address and port to listen on", "[::]:8443")
    .option("--tls-cert <file>", "TLS certificate (PEM) instead of the generated one")
    .option("--tls-key <file>", "key (PEM) of --tls-cert")
    .option("--http", "plain HTTP, behind a TLS-terminating proxy", false)
    .action(s.bind(() => import("./commands/serve.ts")));
  const trust = program.command("trust").description("Manage client certificates serve trusts");
  const trustCmd = (pick: (m: typeof import("./commands/trust.ts")) => CommandAction) => () =>
    import("./commands/trust.ts").then((m) => ({ action: pick(m) }));
  trust.command("add").description("Trust a client certificate (sees private images)")
    .argument("<certfile>", "PEM certificate of the client")
    .option("--name <name>", "name to show (default: the certificate's CN)")
    .action(s.bind(trustCmd((m) => m.add as CommandAction)));
  trust.command("list").alias("ls").description("List trusted client certificates")
    .addOption(formatOption(FORMATS))
    .action(s.bind(trustCmd((m) => m.list as CommandAction)));
  trust.command("remove").alias("rm").description("Stop trusting a client certificate")
    .argument("<fingerprint>", "fingerprint or unique prefix")
    .action(s.bind(trustCmd((m) => m.remove as CommandAction)));

  declareRemoteCommands(program, s);

  program.command("fsck").description("Check the store for missing, damaged or orphaned files")
    .option("--repair", "remove orphans, leftovers and broken images", false)
    .option("--verify", "also re-hash every image", false)
    .addOption(formatOption(["table", "json", "yaml"]))
    .action(s.bind(() => import("./commands/store_fsck.ts")));
}

/** Unpacking images and rendering their templates (issue 5). */
function declareUnpackCommands(program: Command, s: Session): void {
  const instanceOptions = (c: Command, defaultName: string) =>
    c.option("--name <name>", `instance name the templates see (default: ${defaultName})`)
      .option("-c, --config <key=value>", "instance config the templates see", collect, [])
      .addOption(
        new Option("--trigger <trigger>", "which templates: those for this event")
          .choices(["create", "copy", "start"]).default("create"),
      );
  instanceOptions(
    program.command("unpack").description("Unpack an image's root filesystem and templates")
      .argument("<image>", "[REMOTE:]alias, fingerprint or unique fingerprint prefix")
      .argument("<dir>", "new or empty folder for the root filesystem"),
    "the folder's name",
  ).action(s.bind(() => import("./commands/unpack.ts")));
  const template = program.command("template").description("Look at an image's templates");
  instanceOptions(
    template.command("render").description("Print one rendered template, as LXD writes it")
      .argument("<image>", "[REMOTE:]alias, fingerprint or unique fingerprint prefix")
      .argument("<path>", "target path in metadata.yaml, or the template's file name"),
    "imago",
  ).action(s.bind(() => import("./commands/template_render.ts")));
}

/** A loader for one named export of a command module that holds several actions. */
function pick<M>(load: () => Promise<M>, name: keyof M): Loader {
  return () => load().then((m) => ({ action: m[name] as CommandAction }));
}

/** Remotes, copying from them, the image cache, auto-update and settings (issue 4). */
function declareRemoteCommands(program: Command, s: Session): void {
  const remote = program.command("remote").description("Manage the list of remote servers");
  remote.command("add").description("Add a remote server")
    .argument("<name>", "remote name").argument("<url>", "https://HOST[:PORT] or a base URL")
    .option("--protocol <name>", "lxd, simplestreams, or a plugin's protocol", "lxd")
    .option("--public", "public server: no client certificate", false)
    .option("--accept-certificate", "pin the server certificate without asking", false)
    .action(s.bind(() => import("./commands/remote_add.ts")));
  const remoteCmd = (name: keyof typeof import("./commands/remote.ts")) =>
    s.bind(pick(() => import("./commands/remote.ts"), name));
  remote.command("list").alias("ls").description("List the remotes")
    .addOption(formatOption(FORMATS)).action(remoteCmd("list"));
  remote.command("remove").alias("rm").description("Remove a remote")
    .argument("<name>", "remote name").action(remoteCmd("remove"));
  remote.command("rename").alias("mv").description("Rename a remote")
    .argument("<old>", "remote name").argument("<new>", "new name").action(remoteCmd("rename"));
  remote.command("switch").description("Set the default remote")
    .argument("<name>", "remote name").action(remoteCmd("switchDefault"));
  remote.command("get-default").description("Show the default remote")
    .action(remoteCmd("getDefault"));

  program.command("copy").alias("cp").description("Copy an image from a remote into the store")
    .argument("<source>", "REMOTE:IMAGE (alias, fingerprint or prefix)")
    .argument("[target]", "local: (the store)")
    .option("--alias <name>", "add an alias, moving an existing one (repeatable)", collect, [])
    .option("--copy-aliases", "copy the image's aliases from the remote", false)
    .option("--auto-update", "keep the image up to date with its source", false)
    .option("--public", "make the image public", false)
    .option("--arch <arch>", "architecture to pick (default: this host's)")
    .option("--vm", "pick the virtual-machine image", false)
    .action(s.bind(() => import("./commands/image_copy.ts")));
  program.command("refresh").description("Update images from their source when it changed")
    .argument("[images...]", "aliases or fingerprints (default: all with auto-update)")
    .action(s.bind(() => import("./commands/image_refresh.ts")));
  program.command("gc").description("Delete cached images unused for images.remote_cache_expiry")
    .action(s.bind(() => import("./commands/store_gc.ts")));

  const config = program.command("config").description("Get and set store settings (images.*)");
  const configCmd = (name: keyof typeof import("./commands/store_config.ts")) =>
    s.bind(pick(() => import("./commands/store_config.ts"), name));
  config.command("get").description("Show a setting").argument(
    "<key>",
    "e.g. images.auto_update_interval",
  )
    .action(configCmd("get"));
  config.command("set").description("Change a setting")
    .argument("<key>", "setting name").argument("<value>", "new value").action(configCmd("set"));
  config.command("unset").description("Reset a setting to its default")
    .argument("<key>", "setting name").action(configCmd("unset"));
  config.command("show").description("Show every setting").action(configCmd("show"));
}

function buildProgram(s: Session): Command {
  const program = new Command("imago")
    .description("LXD-compatible image store, image client and image server")
    .exitOverride()
    .configureOutput({ writeOut: s.io.stdout, writeErr: s.io.stderr })
    .version(VERSION, "--version", "print the version")
    .option("--store <dir>", "store folder (default: $IMAGO_DIR, else ~/.local/share/imago)")
    .option("-q, --quiet", "no progress or success messages")
    .option("-v, --verbose", "debug messages on stderr")
    .option("--plugins <dir>", "folder of plugins to load (default: ~/.config/imago/plugins)");
  declare(program, s);
  // Each command records itself as the failing one, so the hint names the right --help.
  const hook = (c: Command) => {
    c.configureOutput({ outputError: () => s.failed = c });
    c.commands.forEach(hook);
  };
  hook(program);
  return program;
}

function commandPath(c: Command | undefined): string {
  const names: string[] = [];
  for (let x = c; x?.parent; x = x.parent) names.unshift(x.name());
  return ["imago", ...names].join(" ");
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, " ").trim();

/** Commander's "error: unknown option '--x'" as a sentence-case message. */
function commanderMessage(err: CommanderError): string {
  const m = oneLine(err.message).replace(/^error:\s*/i, "").replace(/\.$/, "");
  return m.charAt(0).toUpperCase() + m.slice(1);
}

/** Prints the error as one stderr line and returns the exit code. */
function report(err: unknown, s: Session): number {
  const io = s.io;
  const hint = (c?: Command) => `: see "${commandPath(c)} --help"`;
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
    if (err.code === "commander.help") return 2; // help went to stderr: no command given
    io.stderr(`Error: ${commanderMessage(err)}${hint(s.failed)}\n`);
    return 2;
  }
  if (err instanceof ImagoError) {
    const extra = err instanceof UsageError ? hint(s.running) : "";
    io.stderr(`Error: ${oneLine(err.message)}${extra}\n`);
    if (io.env.IMAGO_DEBUG === "1" && err.stack) io.stderr(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  io.stderr(`Error: Internal error: ${oneLine(e.message)}\n`);
  if (io.env.IMAGO_DEBUG === "1" && e.stack) io.stderr(`${e.stack}\n`);
  return 1;
}

/** The real process's I/O; stdin is wrapped only when a command reads it. */
function processIO(over: Partial<CliIO>): CliIO {
  let stdin: ReadableStream<Uint8Array> | undefined;
  const io: CliIO = {
    stdout: over.stdout ?? ((s) => void process.stdout.write(s)),
    stderr: over.stderr ?? ((s) => void process.stderr.write(s)),
    get stdin() {
      if ("stdin" in over) return over.stdin;
      return stdin ??= Readable.toWeb(process.stdin) as ReadableStream<Uint8Array>;
    },
    stdinIsTTY: over.stdinIsTTY ?? process.stdin.isTTY === true,
    stderrIsTTY: over.stderrIsTTY ?? process.stderr.isTTY === true,
    env: over.env ?? process.env,
  };
  return io;
}

/** Runs one imago command line; resolves with the exit code (0 ok, 1 error, 2 usage). */
export async function run(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const session = new Session(processIO(io));
  try {
    await buildProgram(session).parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    return report(err, session);
  } finally {
    await session.close();
  }
}
