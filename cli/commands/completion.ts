/**
 * `samsa completion bash|zsh|fish`: a shell completion script generated from the commander program
 * itself (every command, subcommand, alias and option, as its help lists them), so a new command
 * or option completes without a change here. The script holds a table keyed by command path
 * (`cluster health`); its function walks the words typed so far, skipping options and the values
 * of options that take one, to find the path, then offers that command's subcommands, or its
 * options and the global ones after a `-`. A value of an option completes as a file name.
 */
import type { Command } from "commander";

/** One command of the program, as the scripts need it. */
export interface CompletionNode {
  /** The words that lead to it from the program (`["cluster", "health"]`; `[]` for the program). */
  path: string[];
  /** Each path it answers to (aliases included: `topic list` and `topic ls`). */
  paths: string[][];
  description: string;
  subcommands: { names: string[]; description: string }[];
  options: { flags: string[]; takesValue: boolean; description: string }[];
}

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** Every command of `program`, the program first, each parent before its children. */
export function completionTree(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const visit = (cmd: Command, path: string[], paths: string[][]) => {
    const help = cmd.createHelp();
    const subs = help.visibleCommands(cmd);
    nodes.push({
      path,
      paths,
      description: cmd.description(),
      subcommands: subs.map((s) => ({ names: [s.name(), ...s.aliases()], description: s.description() })),
      options: help.visibleOptions(cmd).map((o) => ({
        flags: [o.short, o.long].filter((f): f is string => f !== undefined),
        takesValue: o.required || o.optional,
        description: o.description,
      })),
    });
    // commander's own `help` command is not among cmd.commands: `help <command>` completes the
    // commands it can explain.
    const helpCommand = subs.find((s) => s.name() === "help" && !cmd.commands.includes(s));
    if (helpCommand) {
      nodes.push({
        path: [...path, "help"],
        paths: paths.map((p) => [...p, "help"]),
        description: helpCommand.description(),
        subcommands: nodes[nodes.length - 1].subcommands.filter((s) => s.names[0] !== "help"),
        options: [],
      });
    }
    for (const sub of cmd.commands) {
      const names = [sub.name(), ...sub.aliases()];
      visit(
        sub,
        [...path, sub.name()],
        paths.flatMap((p) => names.map((n) => [...p, n])),
      );
    }
  };
  visit(program, [], [[]]);
  return nodes;
}

/** `text` inside single quotes, for bash and zsh alike. */
function quote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

const words = (items: string[]) => quote(items.join(" "));
const subcommandNames = (n: CompletionNode) => n.subcommands.flatMap((s) => s.names);
const optionFlags = (n: CompletionNode) => n.options.flatMap((o) => o.flags);
const valuedFlags = (n: CompletionNode) => n.options.filter((o) => o.takesValue).flatMap((o) => o.flags);

/** Options every command has of its own (help), or only the program (version): not global. */
const OWN_FLAGS = new Set(["--help", "--version"]);

/**
 * The global options (`_<name>_gopts`, those taking a value `_<name>_gvopts`) and the shell
 * function `_<name>_spec path` as case arms: sets `_<name>_cmds`, `_opts`, `_vopts` (options
 * that take a value) for the command at `path`; bash and zsh read it alike.
 */
function specFunction(name: string, nodes: CompletionNode[]): string {
  const arms = nodes.map((n) => {
    const pattern = n.paths.map((p) => quote(p.join(" "))).join("|");
    return [
      `    ${pattern})`,
      `      _${name}_cmds=${words(subcommandNames(n))}`,
      `      _${name}_opts=${words(optionFlags(n))}`,
      `      _${name}_vopts=${words(valuedFlags(n))}`,
      "      ;;",
    ].join("\n");
  });
  const globals = nodes[0].options.filter((o) => !o.flags.some((f) => OWN_FLAGS.has(f)));
  return [
    `_${name}_gopts=${words(globals.flatMap((o) => o.flags))}`,
    `_${name}_gvopts=${words(globals.filter((o) => o.takesValue).flatMap((o) => o.flags))}`,
    `_${name}_spec() {`,
    `  _${name}_cmds='' _${name}_opts='' _${name}_vopts=''`,
    '  case "$1" in',
    ...arms,
    "  esac",
    "}",
  ].join("\n");
}

/**
 * The walk over the typed words, in the bash and zsh subset both run: sets `_<name>_path` to the
 * command the words before the cursor name (global options may come anywhere), `_<name>_value`
 * to 1 when the cursor is an option's value.
 */
function walkFunction(name: string): string {
  const v = (s: string) => `_${name}_${s}`;
  return `_${name}_walk() {
  # $1: how many words come before the cursor; the words follow.
  local n=$1 i=1 w
  shift
  ${v("spec")} ''
  ${v("path")}='' ${v("value")}=0
  while [ "$i" -lt "$n" ]; do
    w=$2
    shift
    i=$((i + 1))
    case " $${v("vopts")} $${v("gvopts")} " in
      *" $w "*)
        if [ "$i" -ge "$n" ]; then ${v("value")}=1; else shift; i=$((i + 1)); fi
        continue ;;
    esac
    case "$w" in
      -*) ;;
      *)
        case " $${v("cmds")} " in
          *" $w "*)
            ${v("path")}="$${v("path")}\${${v("path")}:+ }$w"
            ${v("spec")} "$${v("path")}" ;;
        esac ;;
    esac
  done
}`;
}

export function bashScript(program: Command): string {
  const name = program.name();
  const nodes = completionTree(program);
  return `# bash completion for ${name}, generated by \`${name} completion bash\`.
# Use: source <(${name} completion bash)   (or save it in ~/.local/share/bash-completion/completions/${name})
${specFunction(name, nodes)}
${walkFunction(name)}
_${name}() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
  _${name}_walk "$COMP_CWORD" "\${COMP_WORDS[@]}"
  if [ "$_${name}_value" = 1 ]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ $cur == -* && -z $_${name}_path ]]; then
    COMPREPLY=($(compgen -W "$_${name}_opts" -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$_${name}_opts $_${name}_gopts" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$_${name}_cmds" -- "$cur"))
  fi
}
complete -o default -F _${name} ${name}
`;
}

/** `name:description` entries for zsh's _describe, in a zsh array literal. */
function describeArray(entries: [string, string][]): string {
  return `(${entries.map(([n, d]) => quote(`${n.replace(/:/g, "\\:")}:${d}`)).join(" ")})`;
}

/**
 * zsh: the global options with their descriptions (`_<name>_gdescribed`), and per path the
 * subcommands and options (`cmds`, `opts` of the caller), for _describe.
 */
function zshDescriptions(name: string, nodes: CompletionNode[]): string {
  const arms = nodes.map((n) => {
    const pattern = n.paths.map((p) => quote(p.join(" "))).join("|");
    const cmds = n.subcommands.flatMap((s) => s.names.map((c): [string, string] => [c, s.description]));
    const opts = n.options.flatMap((o) => o.flags.map((f): [string, string] => [f, o.description]));
    return `    ${pattern})\n      cmds=${describeArray(cmds)}\n      opts=${describeArray(opts)}\n      ;;`;
  });
  const globals = nodes[0].options
    .filter((o) => !o.flags.some((f) => OWN_FLAGS.has(f)))
    .flatMap((o) => o.flags.map((f): [string, string] => [f, o.description]));
  return [
    `_${name}_gdescribed=${describeArray(globals)}`,
    `_${name}_described() {`,
    '  case "$1" in',
    ...arms,
    "  esac",
    "}",
  ].join("\n");
}

export function zshScript(program: Command): string {
  const name = program.name();
  const nodes = completionTree(program);
  return `#compdef ${name}
# zsh completion for ${name}, generated by \`${name} completion zsh\`.
# Use: source <(${name} completion zsh)   (after compinit), or save it as _${name} in your $fpath
${specFunction(name, nodes)}
${walkFunction(name)}
${zshDescriptions(name, nodes)}
_${name}() {
  local -a cmds opts
  _${name}_walk "$((CURRENT - 1))" "\${words[@]}"
  if [ "$_${name}_value" = 1 ]; then
    _files
    return
  fi
  _${name}_described "$_${name}_path"
  if [[ $PREFIX == -* ]]; then
    [ -n "$_${name}_path" ] && opts+=("\${_${name}_gdescribed[@]}")
    _describe -t options option opts
  elif (( \${#cmds} )); then
    _describe -t commands command cmds
  else
    _files
  fi
}
if (( $+functions[compdef] )); then
  compdef _${name} ${name}
fi
`;
}

/** `text` inside fish's single quotes (where only \\ and \' are escapes). */
function fishQuote(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** `switch` arms printing, per command path, `entries` of that node as `word<TAB>description` lines. */
function fishTable(
  fn: string,
  nodes: CompletionNode[],
  entries: (n: CompletionNode) => [string, string][],
): string {
  const arms = nodes.map((n) => {
    const lines = entries(n).map(([w, d]) => `${w}\t${d}`);
    const printed =
      lines.length > 0 ? `      printf '%s\\n' ${lines.map(fishQuote).join(" ")}` : "      true";
    return `    case ${n.paths.map((p) => fishQuote(p.join(" "))).join(" ")}\n${printed}`;
  });
  return [`function ${fn} --argument-names path`, "  switch $path", ...arms, "  end", "end"].join("\n");
}

/**
 * fish: per path the subcommands, the options and the options that take a value (`__<name>_cmds`,
 * `__<name>_opts`, `__<name>_vopts`), and `__<name>_complete`, which walks `commandline -opc` as
 * the bash and zsh scripts walk their words, then prints what fits the word under the cursor.
 */
export function fishScript(program: Command): string {
  const name = program.name();
  const nodes = completionTree(program);
  const fn = (s: string) => `__${name}_${s}`;
  const globals = nodes[0].options.filter((o) => !o.flags.some((f) => OWN_FLAGS.has(f)));
  const described = (opts: CompletionNode["options"]) =>
    opts.flatMap((o) => o.flags.map((f): [string, string] => [f, o.description]));
  return `# fish completion for ${name}, generated by \`${name} completion fish\`.
# Use: ${name} completion fish | source   (or save it as ~/.config/fish/completions/${name}.fish)
${fishTable(fn("cmds"), nodes, (n) => n.subcommands.flatMap((s) => s.names.map((c): [string, string] => [c, s.description])))}
${fishTable(fn("opts"), nodes, (n) => described(n.options))}
${fishTable(fn("vopts"), nodes, (n) => valuedFlags(n).map((f): [string, string] => [f, ""]))}
function ${fn("gopts")}
  printf '%s\\n' ${described(globals)
    .map(([f, d]) => fishQuote(`${f}\t${d}`))
    .join(" ")}
end
set -g ${fn("gvopts")} ${globals
    .filter((o) => o.takesValue)
    .flatMap((o) => o.flags)
    .map(fishQuote)
    .join(" ")}
function ${fn("words")} --argument-names path
  ${fn("cmds")} $path | string replace -r '\\t.*' ''
end
function ${fn("complete")}
  set -l typed (commandline -opc)
  set -l cur (commandline -ct)
  set -l path ''
  set -l i 2
  while test $i -le (count $typed)
    set -l w $typed[$i]
    set i (math $i + 1)
    set -l vopts (${fn("vopts")} $path | string replace -r '\\t.*' '') $${fn("gvopts")}
    if contains -- $w $vopts
      if test $i -gt (count $typed)
        __fish_complete_path $cur
        return
      end
      set i (math $i + 1)
    else if not string match -q -- '-*' $w; and contains -- $w (${fn("words")} $path)
      set path (string trim -- "$path $w")
    end
  end
  if string match -q -- '-*' $cur
    ${fn("opts")} $path
    test -n "$path"; and ${fn("gopts")}
  else if test -n "$(${fn("cmds")} $path)"
    ${fn("cmds")} $path
  else
    __fish_complete_path $cur
  end
end
complete -c ${name} -f -a '(${fn("complete")})'
`;
}

export function registerCompletionCommand(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script: bash, zsh or fish")
    .argument("<shell>", `one of ${SHELLS.join(", ")}`)
    .addHelpText(
      "after",
      `
Examples:
  source <(samsa completion bash)      # in ~/.bashrc
  source <(samsa completion zsh)       # in ~/.zshrc, after compinit
  samsa completion fish > ~/.config/fish/completions/samsa.fish`,
    )
    .action((shell: string) => {
      const scripts: Record<Shell, (p: Command) => string> = {
        bash: bashScript,
        zsh: zshScript,
        fish: fishScript,
      };
      if (!(SHELLS as readonly string[]).includes(shell))
        throw new Error(`completion ${shell}: expected one of ${SHELLS.join(", ")}`);
      let root = program;
      while (root.parent) root = root.parent;
      process.stdout.write(scripts[shell as Shell](root));
    });
}
