// Each command declares its options once: the parse refuses what it does not declare (naming the
// flag), and `--help` is printed from the same declaration, before anything runs.
import { parseArgs } from "node:util";
import { didYouMean } from "../config/suggest.ts";

export type OptionSpec = { type: "string" | "boolean"; value?: string; help: string };
export type Values = Record<string, string | boolean | undefined>;
export type Parsed = { values: Values; positionals: string[] };

export type Command = {
  name: string;
  /** One line in `portcullis --help`. */
  summary: string;
  /** What follows the options in the synopsis, e.g. "<source>". */
  args?: string;
  /** The paragraphs of `portcullis <command> --help`. */
  description: string;
  options: Record<string, OptionSpec>;
  positionals?: { min: number; max: number };
  run(parsed: Parsed): Promise<number>;
};

/** A command line that does not parse: exit code 2, with a pointer to --help. */
export class UsageError extends Error {}

const HELP = "show this help and exit (runs nothing)";

export function usageError(command: string, message: string): UsageError {
  const text = message.startsWith(`${command} `) ? message : `${command}: ${message}`;
  return new UsageError(`portcullis ${text}\nSee \`portcullis ${command} --help\`.`);
}

/** The arguments, or "help" when -h/--help is among them (then nothing else is looked at). */
export function parseCommand(command: Command, args: string[]): Parsed | "help" {
  const end = args.indexOf("--");
  if ((end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h")) return "help";
  const options = Object.fromEntries(Object.entries(command.options).map(([name, o]) => [name, { type: o.type }]));
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const values: Values = {};
  const positionals: string[] = [];
  const names = Object.keys(command.options);
  for (const t of tokens) {
    if (t.kind === "positional") positionals.push(t.value);
    if (t.kind !== "option") continue;
    const spec = command.options[t.name];
    if (!spec) {
      throw usageError(command.name, `Unknown option '${t.rawName}'${didYouMean(t.name, names, "--")}`);
    }
    if (spec.type === "boolean" && t.value !== undefined)
      throw usageError(command.name, `--${t.name} takes no value (got "${t.value}")`);
    // `--workers --yes` is a missing value, not a value "--yes".
    if (spec.type === "string" && (t.value === undefined || (!t.inlineValue && t.value.startsWith("-"))))
      throw usageError(command.name, `--${t.name} needs a value: --${t.name} ${spec.value ?? "VALUE"}`);
    values[t.name] = spec.type === "boolean" ? true : t.value;
  }
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  if (positionals.length > max) throw usageError(command.name, `unexpected argument "${positionals[max]}"`);
  if (positionals.length < min) throw usageError(command.name, `missing ${command.args ?? "argument"}`);
  return { values, positionals };
}

export function commandHelp(command: Command): string {
  const options = Object.entries(command.options).map(([name, o]) => [
    `--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`,
    o.help,
  ]);
  options.push(["-h, --help", HELP]);
  const width = Math.max(...options.map(([flag]) => flag!.length)) + 2;
  const synopsis = ["portcullis", command.name, "[options]", command.args].filter(Boolean).join(" ");
  const lines = options.map(([flag, help]) => `  ${flag!.padEnd(width)}${indent(help!, width + 2)}`);
  return `Usage: ${synopsis}\n\n${command.description.trim()}\n\nOptions:\n${lines.join("\n")}\n`;
}

const indent = (text: string, by: number) => text.split("\n").join(`\n${" ".repeat(by)}`);
