/**
 * The closed list of `read_only` (src/domain/readOnly.ts): each command it lets through,
 * and for each the options it may take, which of them take an argument, and what its
 * operands may be. An option not listed is refused, and so is a word in a subcommand's
 * place that is not one of the subcommands listed. Options are written compactly:
 *
 * - short letters: `l` takes no argument, `n:` takes one (`-n 5`, `-n5`), `w?` takes one
 *   only when attached (`-w80`);
 * - long names: `--all` takes no argument, `--lines=` takes one (`--lines=5`,
 *   `--lines 5`), `--color?` takes one only after `=`.
 *
 * Long options must be written in full: GNU getopt's abbreviations (`--out` for
 * `--output`) are refused, since an abbreviation's meaning depends on the program's version.
 *
 * Not on the list, on purpose: editors and pagers (`less` runs `!cmd`), interpreters
 * (`awk`, `sed`, `perl`, `python`), anything that runs another command (`env`, `xargs`,
 * `sudo`, `nice`, `timeout`, `stdbuf`, `watch`, `find -exec`), `tee`, `dd`, `zgrep` (a
 * script that once wrote files named by a crafted file name), and the bash
 * builtins that evaluate their arguments (`printf -v`, `read`, `declare`, `let`, `test`,
 * `[`, `eval`, `source`, `mapfile`, `getopts`, `unset`, `export`, `exec`, `command`).
 *
 * @since 0.3.0
 */

/** How a short or long option takes its argument. */
export type ArgKind = "none" | "required" | "attached" | "optional"

export interface Options {
  readonly short: ReadonlyMap<string, ArgKind>
  readonly long: ReadonlyMap<string, ArgKind>
}

/** What one command (or one subcommand) may be given. */
export interface CommandSpec {
  readonly options: Options
  /** What an option's argument must match, by option as written (`-n`, `--lines`). */
  readonly args?: Readonly<Record<string, RegExp>>
  /**
   * Options whose argument is optional and, when not attached, is the next word if that
   * word matches (journalctl's `-n 50`, `-b -1`): the program decides the same way.
   */
  readonly nextIfMatches?: Readonly<Record<string, RegExp>>
  /** At most this many operands. */
  readonly maxOperands?: number
  /** Every operand must match (then none may hold an expansion or a glob). */
  readonly operand?: RegExp
  /** The first operand names a subcommand; each has its own spec. */
  readonly subcommands?: Readonly<Record<string, CommandSpec>>
  /**
   * With subcommands: whether the command's own options stay valid after the subcommand
   * (`systemctl status -l`), or only the subcommand's apply there (`git log`, `docker ps`).
   */
  readonly ownOptionsAfterSubcommand?: boolean
  /** With subcommands: the command may be given none (`systemctl --failed` lists units). */
  readonly subcommandOptional?: boolean
  /** Options only before the first operand (`echo`, `printf`: later words are text). */
  readonly optionsBeforeOperands?: boolean
  /** Words parsed by the command's own rules (`find`, `ps`): undefined when understood, else why not. */
  readonly custom?: (words: ReadonlyArray<string>) => string | undefined
}

const parseOptions = (text: string): Options => {
  const short = new Map<string, ArgKind>()
  const long = new Map<string, ArgKind>()
  for (const token of text.split(/\s+/).filter((t) => t !== "")) {
    if (token.startsWith("--")) {
      const kind: ArgKind = token.endsWith("=") ? "required" : token.endsWith("?") ? "optional" : "none"
      long.set(kind === "none" ? token : token.slice(0, -1), kind)
      continue
    }
    for (let i = 0; i < token.length; i++) {
      const next = token[i + 1]
      const kind: ArgKind = next === ":" ? "required" : next === "?" ? "attached" : "none"
      short.set(token[i]!, kind)
      if (kind !== "none") i++
    }
  }
  return { short, long }
}

const spec = (options: string, more: Omit<CommandSpec, "options"> = {}): CommandSpec => ({ options: parseOptions(options), ...more })

const HELP = " --help --version"
const NUMBER = /^\d+$/
const SIGNED = /^[+-]?\d+[A-Za-z]*$/
const LINES = /^\+?\d+$|^all$/
const BOOT = /^[+-]?\d+$|^[0-9a-fA-F]{32}([+-]\d+)?$|^all$/

// GNU coreutils and friends.
const ls = spec(
  "aAbBcCdDfFgGhHiklLmnNopqQrRsStuUvxXZ1 I: T: w:" +
    " --all --almost-all --author --escape --block-size= --ignore-backups --color? --directory --dired --classify? --file-type" +
    " --format= --full-time --group-directories-first --no-group --human-readable --si --dereference-command-line" +
    " --dereference-command-line-symlink-to-dir --hide= --hyperlink? --indicator-style= --inode --ignore= --kibibytes" +
    " --dereference --numeric-uid-gid --literal --hide-control-chars --show-control-chars --quote-name --quoting-style=" +
    " --reverse --recursive --size --sort= --time= --time-style= --tabsize= --width= --context --zero" + HELP
)
const cat = spec("AbeEnstTuv --show-all --number-nonblank --show-ends --number --squeeze-blank --show-tabs --show-nonprinting" + HELP)
const headTail = (extra: string) =>
  spec(`c: n: qvz 0123456789 ${extra} --bytes= --lines= --quiet --silent --verbose --zero-terminated` + HELP, {
    args: { "-n": SIGNED, "-c": SIGNED, "--lines": SIGNED, "--bytes": SIGNED }
  })
const grep = spec(
  "EFGPabchHiIlLnoqrRsTuUvVwxyzZ 0123456789 A: B: C: d: D: e: f: m:" +
    " --extended-regexp --fixed-strings --basic-regexp --perl-regexp --regexp= --file= --ignore-case --no-ignore-case" +
    " --word-regexp --line-regexp --null-data --no-messages --invert-match --max-count= --byte-offset --line-number" +
    " --line-buffered --with-filename --no-filename --label= --only-matching --quiet --silent --binary-files= --text" +
    " --directories= --devices= --recursive --dereference-recursive --include= --exclude= --exclude-from= --exclude-dir=" +
    " --files-without-match --files-with-matches --count --initial-tab --null --before-context= --after-context=" +
    " --context? --color? --colour? --binary" + HELP
)
const sums = spec("bctwz --binary --check --tag --text --ignore-missing --quiet --status --strict --warn --zero" + HELP)

const find = (words: ReadonlyArray<string>): string | undefined => {
  // find [-H|-L|-P] [starting points] [expression]: a closed list of tests and of the actions that only print.
  const none = new Set([
    "-daystart", "-depth", "-follow", "-ignore_readdir_race", "-noignore_readdir_race", "-mount", "-xdev", "-noleaf",
    "-empty", "-executable", "-false", "-true", "-nogroup", "-nouser", "-readable", "-writable", "-print", "-print0",
    "-ls", "-prune", "-quit", "-and", "-a", "-or", "-o", "-not", "!", "(", ")", ",", "-help", "--help", "-version", "--version"
  ])
  const one = new Set([
    "-maxdepth", "-mindepth", "-amin", "-anewer", "-atime", "-cmin", "-cnewer", "-ctime", "-fstype", "-gid", "-group",
    "-ilname", "-iname", "-inum", "-ipath", "-iregex", "-iwholename", "-links", "-lname", "-mmin", "-mtime", "-name",
    "-newer", "-path", "-perm", "-regex", "-regextype", "-samefile", "-size", "-type", "-uid", "-used", "-user",
    "-wholename", "-xtype", "-context", "-printf"
  ])
  let i = 0
  while (["-H", "-L", "-P"].includes(words[i] ?? "")) i++
  while (i < words.length && !/^[-!(),]/.test(words[i]!)) i++
  for (; i < words.length; i++) {
    const w = words[i]!
    if (none.has(w)) continue
    if (one.has(w) || /^-newer[aBcmt][aBcmt]$/.test(w)) {
      if (i + 1 >= words.length) return `find ${w} without its argument`
      i++
      continue
    }
    return `find: ${JSON.stringify(w)} is not one of the tests and printing actions allowed (no -exec, -delete, -fprint …)`
  }
  return undefined
}

const ps = (words: ReadonlyArray<string>): string | undefined => {
  // UNIX options (-e, -o FMT), BSD options (aux, o FMT), GNU long options; none of them writes anything.
  const unix = { flags: "AadeFfHjlLMNTwxyZcPV", args: "CGgoOpqstUuk" }
  const bsd = { flags: "aAcefhjlLmrSTuvwxXsZnV", args: "OoptUk" }
  const long = new Set(["--forest", "--headers", "--no-headers", "--help", "--version", "--cumulative", "--deselect", "--info"])
  const longArgs = new Set(["--sort", "--pid", "--ppid", "--format", "--cols", "--columns", "--width", "--rows", "--lines",
    "--user", "--User", "--group", "--Group", "--sid", "--tty", "--quick-pid"])
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    if (w.startsWith("--")) {
      const [name, value] = [w.split("=")[0]!, w.includes("=")]
      if (long.has(name) && !value) continue
      if (longArgs.has(name)) {
        if (!value && ++i >= words.length) return `ps: ${name} without its argument`
        continue
      }
      return `ps: unknown option ${name}`
    }
    if (NUMBER.test(w.replace(/,/g, ""))) continue
    const set = w.startsWith("-") ? unix : bsd
    const letters = w.startsWith("-") ? w.slice(1) : w
    for (let j = 0; j < letters.length; j++) {
      const l = letters[j]!
      if (set.flags.includes(l)) continue
      if (set.args.includes(l)) {
        if (j === letters.length - 1 && ++i >= words.length) return `ps: ${l} without its argument`
        break
      }
      return `ps: unknown option ${w.startsWith("-") ? "-" : ""}${l}`
    }
  }
  return undefined
}

const DOCKER_SUBCOMMANDS: Readonly<Record<string, CommandSpec>> = {
  ps: spec("aqlsn: f: --all --quiet --latest --size --no-trunc --last= --filter= --format=" + " --help"),
  images: spec("aqf: --all --quiet --no-trunc --digests --filter= --format= --help"),
  logs: spec("ftn: --follow --timestamps --details --tail= --since= --until= --help", { maxOperands: 1 }),
  inspect: spec("f: s --format= --size --type= --help"),
  version: spec("f: --format= --help", { maxOperands: 0 }),
  info: spec("f: --format= --help", { maxOperands: 0 }),
  top: spec("--help", { maxOperands: 1 }),
  port: spec("--help", { maxOperands: 2 }),
  stats: spec("a --all --no-stream --no-trunc --format= --help")
}

const gitLogLike = "p s u n: 0123456789 S: G: L: U?" +
  " --oneline --graph --decorate? --all --branches? --tags? --remotes? --stat? --shortstat --numstat --name-only --name-status" +
  " --patch --no-patch --max-count= --skip= --since= --until= --after= --before= --author= --committer= --grep=" +
  " --format= --pretty? --abbrev-commit --no-abbrev-commit --abbrev? --no-merges --merges --first-parent --reverse" +
  " --date= --relative-date --follow --source --left-right --cherry-pick --no-color --color? --regexp-ignore-case" +
  " --all-match --invert-grep --full-history --simplify-by-decoration --topo-order --date-order --author-date-order" +
  " --no-renames --find-renames? --summary --word-diff? --unified= --ignore-all-space --ignore-space-change --show-signature" +
  " --no-notes --boundary --ancestry-path --full-diff --diff-filter= --relative? --exit-code --quiet --help"

const GIT_SUBCOMMANDS: Readonly<Record<string, CommandSpec>> = {
  log: spec(gitLogLike + " i E F"),
  show: spec(gitLogLike),
  diff: spec("p s u U? w b R M? z --cached --staged --stat? --shortstat --numstat --name-only --name-status --patch" +
    " --no-patch --unified= --no-color --color? --word-diff? --ignore-all-space --ignore-space-change --ignore-blank-lines" +
    " --diff-filter= --no-renames --find-renames? --summary --exit-code --quiet --check --minimal --patience --histogram" +
    " --relative? --merge-base --help"),
  status: spec("s b z u? --short --branch --long --porcelain? --untracked-files? --ignored? --ignore-submodules? --ahead-behind" +
    " --no-ahead-behind --renames --no-renames --show-stash --column? --no-column --help"),
  branch: spec("a r v l --all --remotes --verbose --list --show-current --contains? --no-contains? --merged? --no-merged?" +
    " --points-at= --sort= --format= --color? --no-color --column? --no-column --abbrev= --no-abbrev --help", { maxOperands: 0 }),
  remote: spec("v --verbose --help", { maxOperands: 0 }),
  "rev-parse": spec("q --abbrev-ref? --short? --show-toplevel --show-prefix --show-cdup --git-dir --git-common-dir" +
    " --absolute-git-dir --is-inside-work-tree --is-inside-git-dir --is-bare-repository --is-shallow-repository --verify" +
    " --quiet --symbolic --symbolic-full-name --all --branches? --tags? --remotes? --help"),
  "ls-files": spec("c d m o i s k u t v f z --cached --deleted --modified --others --ignored --stage --killed --unmerged" +
    " --exclude-standard --full-name --directory --no-empty-directory --error-unmatch --eol --deduplicate --help"),
  blame: spec("b l t s e w f n c p L: M? C? --root --show-stats --line-porcelain --porcelain --incremental --show-name" +
    " --show-number --show-email --date= --abbrev= --color-lines --color-by-age --help"),
  describe: spec("--tags --all --always --long --abbrev= --match= --exclude= --contains --first-parent --exact-match" +
    " --dirty? --broken? --candidates= --help"),
  shortlog: spec("s n e c --summary --numbered --email --committer --group= --help")
}

const SYSTEMCTL_VERBS = [
  "status", "show", "cat", "is-active", "is-enabled", "is-failed", "is-system-running", "list-units", "list-unit-files",
  "list-timers", "list-sockets", "list-dependencies", "list-jobs", "list-automounts", "list-paths", "get-default",
  "show-environment"
] as const

const IP_OBJECTS = ["a", "addr", "address", "l", "link", "r", "ro", "route", "n", "neigh", "neighbor", "neighbour", "ru", "rule", "maddr", "maddress"]
const ip = (words: ReadonlyArray<string>): string | undefined => {
  // ip [OPTIONS] OBJECT [show|list|ls|lst|get …]; ip reads abbreviated options, so only these exact spellings are taken.
  const options = new Set(["-4", "-6", "-br", "-brief", "-c", "-color", "-d", "-details", "-s", "-stats", "-statistics", "-o",
    "-oneline", "-j", "-json", "-p", "-pretty", "-h", "-human", "-r", "-resolve", "-a", "-all"])
  let i = 0
  for (; i < words.length && words[i]!.startsWith("-"); i++) {
    if (!options.has(words[i]!)) return `ip: unknown option ${words[i]!}`
  }
  const object = words[i]
  if (object === undefined || !IP_OBJECTS.includes(object)) {
    return `ip ${object ?? "without an object"} (read-only: ${["addr", "link", "route", "neigh", "rule", "maddr"].join(", ")})`
  }
  const action = words[i + 1]
  const actions = ["show", "list", "ls", "lst", ...(["r", "ro", "route"].includes(object) ? ["get"] : [])]
  if (action !== undefined && !actions.includes(action)) return `ip ${object} ${action} (read-only: ${actions.join(", ")})`
  const bad = words.slice(i + 2).find((w) => !/^[A-Za-z0-9_.:/@%+-]+$/.test(w))
  return bad === undefined ? undefined : `ip: ${JSON.stringify(bad)}`
}

/** The commands `read_only` lets through. */
export const readOnlyCommands: Readonly<Record<string, CommandSpec>> = {
  // Files and text
  ls,
  dir: ls,
  cat,
  tac: spec("b r s: --before --regex --separator=" + HELP),
  head: headTail(""),
  tail: headTail("f F s: --follow? --retry --pid= --sleep-interval= --max-unchanged-stats="),
  wc: spec("c l m w L --bytes --chars --lines --words --max-line-length --files0-from= --total=" + HELP),
  nl: spec("p b: d: f: h: i: l: n: s: v: w: --body-numbering= --section-delimiter= --footer-numbering= --header-numbering=" +
    " --line-increment= --join-blank-lines= --number-format= --no-renumber --number-separator= --starting-line-number=" +
    " --number-width=" + HELP),
  cut: spec("n s z b: c: d: f: --bytes= --characters= --delimiter= --fields= --complement --only-delimited" +
    " --output-delimiter= --zero-terminated" + HELP),
  tr: spec("c C d s t --complement --delete --squeeze-repeats --truncate-set1" + HELP, { maxOperands: 2 }),
  rev: spec(HELP),
  strings: spec("a d f w n: t: e: s: 0123456789 --all --data --print-file-name --bytes= --radix= --encoding=" +
    " --output-separator=" + HELP),
  od: spec("b c d f i l o s v x A: j: N: S: t: w? --address-radix= --skip-bytes= --read-bytes= --strings? --format=" +
    " --output-duplicates --width? --endian=" + HELP),
  hexdump: spec("b c C d o x v e: f: n: s:" + HELP),
  base64: spec("d i w: --decode --ignore-garbage --wrap=" + HELP),
  grep,
  egrep: grep,
  fgrep: grep,
  zcat: spec("f q v l t --force --quiet --verbose --list --test" + HELP),
  diff: spec("a b B d e E i n N p q r s t T u w y c C: D: F: I: L: S: U: W: x: X: --normal --brief --report-identical-files" +
    " --context? --unified? --ed --rcs --side-by-side --width= --left-column --suppress-common-lines --show-c-function" +
    " --show-function-line= --label= --expand-tabs --initial-tab --tabsize= --suppress-blank-empty --new-file" +
    " --unidirectional-new-file --ignore-case --ignore-tab-expansion --ignore-trailing-space --ignore-space-change" +
    " --ignore-all-space --ignore-blank-lines --ignore-matching-lines= --text --strip-trailing-cr --recursive" +
    " --no-dereference --exclude= --exclude-from= --starting-file= --ignore-file-name-case --no-ignore-file-name-case" +
    " --minimal --speed-large-files --color?" + HELP),
  cmp: spec("b l s i: n: --print-bytes --verbose --quiet --silent --ignore-initial= --bytes=" + HELP, { maxOperands: 4 }),
  stat: spec("L f t c: --dereference --file-system --format= --printf= --terse --cached=" + HELP),
  file: spec("b c E h i k l L N n p r s S v z 0 e: F: f: m: P: --brief --checking-printout --exclude= --separator=" +
    " --files-from= --no-dereference --dereference --mime --mime-type --mime-encoding --keep-going --list --no-pad" +
    " --no-buffer --preserve-date --raw --special-files --uncompress --print0 --extension --apple" + HELP),
  readlink: spec("e f m n q s v z --canonicalize --canonicalize-existing --canonicalize-missing --no-newline --quiet" +
    " --silent --verbose --zero" + HELP),
  realpath: spec("e L m P q s z --canonicalize-existing --canonicalize-missing --logical --physical --quiet" +
    " --relative-to= --relative-base= --no-symlinks --strip --zero" + HELP),
  basename: spec("a z s: --multiple --suffix= --zero" + HELP),
  dirname: spec("z --zero" + HELP),
  md5sum: sums,
  sha1sum: sums,
  sha224sum: sums,
  sha256sum: sums,
  sha384sum: sums,
  sha512sum: sums,
  b2sum: sums,
  cksum: spec(HELP),
  jq: spec("a c C e j M n r R s S --ascii-output --compact-output --color-output --exit-status --join-output" +
    " --monochrome-output --null-input --raw-output --raw-output0 --raw-input --slurp --sort-keys --tab --indent= --seq" +
    " --stream" + HELP),
  sort: spec("b d f g h i M n R r V c C s u z k: t: S: --ignore-leading-blanks --dictionary-order --ignore-case" +
    " --general-numeric-sort --human-numeric-sort --ignore-nonprinting --month-sort --numeric-sort --random-sort" +
    " --reverse --version-sort --sort= --check? --stable --unique --zero-terminated --key= --field-separator=" +
    " --buffer-size= --parallel= --merge --debug" + HELP),
  uniq: spec("c d D i u z f: s: w: --count --repeated --all-repeated? --group? --ignore-case --unique --zero-terminated" +
    " --skip-fields= --skip-chars= --check-chars=" + HELP, { maxOperands: 1 }),
  find: { options: parseOptions(""), custom: find },
  // Disks and memory
  df: spec("a h H i k l P T B: t: x: --all --block-size= --human-readable --si --inodes --local --no-sync --sync" +
    " --output? --portability --print-type --type= --exclude-type= --total" + HELP),
  du: spec("0 a b c D h H k L l m P s S x B: d: t: X: --all --apparent-size --block-size= --bytes --total" +
    " --dereference-args --max-depth= --human-readable --inodes --dereference --count-links --no-dereference --null" +
    " --separate-dirs --si --summarize --threshold= --time? --time-style= --exclude= --exclude-from= --one-file-system" +
    " --files0-from=" + HELP),
  free: spec("b k m g t h l w v c: s: --bytes --kilo --mega --giga --tera --peta --kibi --mebi --gibi --tebi --pebi --human" +
    " --si --lohi --total --wide --committed --seconds= --count=" + HELP, { maxOperands: 0 }),
  lsblk: spec("a b d D f J l m n O p P r s S t z A e: I: o: x: --all --bytes --nodeps --discard --fs --json --list --perms" +
    " --noheadings --output-all --paths --pairs --raw --inverse --scsi --topology --zoned --output= --exclude= --include=" +
    " --sort=" + HELP),
  findmnt: spec("A a b c D f J k l m n r s u U v F: o: t: O: S: T: N: d: --all --ascii --bytes --canonicalize --df" +
    " --first-only --json --kernel --list --mtab --fstab --noheadings --notruncate --raw --nofsroot --evaluate --verify" +
    " --submounts --unique --pairs --output= --types= --options= --source= --target= --mountpoint= --direction=" +
    " --tab-file=" + HELP),
  // Processes and system
  ps: { options: parseOptions(""), custom: ps },
  pgrep: spec("a c f i l n o r v w x d: g: G: P: s: t: u: U: F: --delimiter= --list-name --list-full --count --full" +
    " --pgroup= --group= --ignore-case --newest --oldest --parent= --session= --terminal= --euid= --uid= --inverse" +
    " --lightweight --exact --pidfile= --logpidfile --ns= --nslist=" + HELP),
  uptime: spec("p s --pretty --since" + HELP, { maxOperands: 0 }),
  uname: spec("a s n r v m p i o --all --kernel-name --nodename --kernel-release --kernel-version --machine --processor" +
    " --hardware-platform --operating-system" + HELP, { maxOperands: 0 }),
  whoami: spec(HELP, { maxOperands: 0 }),
  id: spec("a g G n r u z Z --context --group --groups --name --real --user --zero" + HELP),
  groups: spec(HELP),
  who: spec("a b d H l m p q r s t T u w --all --boot --dead --heading --login --lookup --process --count --runlevel" +
    " --short --time --mesg --message --writable --users" + HELP, { maxOperands: 2 }),
  w: spec("h i o s u f --no-header --no-current --short --from --ip-addr --old-style" + HELP),
  last: spec("a d F i w x R 0123456789 n: f: s: t: p: --hostlast --dns --fulltimes --ip --limit= --file= --since= --until=" +
    " --present= --nohostname --fullnames --system --time-format=" + HELP),
  lastlog: spec("b: t: u: --before= --time= --user=" + HELP, { maxOperands: 0 }),
  getent: spec("i s: --service= --no-idn" + HELP),
  nproc: spec("--all --ignore=" + HELP, { maxOperands: 0 }),
  lscpu: spec("a b c J x y B C? e? p? s: --all --online --offline --json --hex --physical --bytes --extended? --parse?" +
    " --caches? --sysroot=" + HELP, { maxOperands: 0 }),
  lsmod: spec(HELP, { maxOperands: 0 }),
  lspci: spec("m t v k n x b D P i: p: s: d: --version --help"),
  lsusb: spec("v t s: d: D: --verbose --tree" + HELP),
  lsb_release: spec("a c d i r s v --all --codename --description --id --release --short" + HELP, { maxOperands: 0 }),
  vmstat: spec("a f m n s d D t w y S: p: --active --forks --slabs --stats --disk --disk-sum --timestamp --wide --one-header" +
    " --no-first --unit= --partition=" + HELP, { maxOperands: 2, operand: NUMBER }),
  iostat: spec("c d h k m N t x y z s H j: o: p: g: --compact --dec= --human --pretty" + HELP),
  mpstat: spec("A n T u H I: N: P: o: --dec=" + HELP),
  printenv: spec("0 --null" + HELP),
  pwd: spec("L P", { maxOperands: 0 }),
  cd: spec("L P e @", { maxOperands: 1 }),
  echo: spec("n e E", { optionsBeforeOperands: true }),
  printf: spec("", { optionsBeforeOperands: true }),
  true: spec("", { maxOperands: 0 }),
  which: spec("a s --all --skip-alias --skip-dot --skip-tilde --show-dot --show-tilde" + HELP),
  hostname: spec("a A d f i I s --alias --all-fqdns --domain --fqdn --long --ip-address --all-ip-addresses --short" + HELP,
    { maxOperands: 0 }),
  date: spec("u R I? d: f: r: --utc --universal --rfc-email --iso-8601? --rfc-3339= --date= --file= --reference= --debug" +
    HELP, { maxOperands: 1, operand: /^\+/ }),
  dmesg: spec("d e H k P r S t T u w x W J L? f: l: F: s: --show-delta --reltime --human --kernel --nopager --raw" +
    " --syslog --notime --ctime --userspace --follow --follow-new --decode --json --color? --facility= --level= --file=" +
    " --buffer-size= --time-format= --since= --until=" + HELP, { maxOperands: 0 }),
  // Network
  ss: spec("h V H O n r a l o e m T i p s z Z b E 4 6 0 t u d w x S M f: A: F: --no-header --oneline --numeric --resolve --all" +
    " --listening --options --extended --memory --threads --info --processes --summary --context --contexts --bpf" +
    " --events --ipv4 --ipv6 --packet --tcp --udp --dccp --raw --unix --sctp --mptcp --tipc --vsock --xdp --tos --cgroup" +
    " --family= --query= --socket= --filter=" + HELP),
  netstat: spec("a c C e F g i l M n N o p r s t u v w W x Z 4 6 --all --continuous --extend --groups --interfaces" +
    " --listening --masquerade --numeric --numeric-hosts --numeric-ports --numeric-users --timers --program --route" +
    " --statistics --tcp --udp --raw --unix --verbose --wide --inet --inet6 --symbolic" + HELP),
  ip: { options: parseOptions(""), custom: ip },
  // Services and logs
  systemctl: spec("a l q r i t: p: P: n: o: --all --full --no-pager --no-legend --plain --quiet --value --recursive --reverse" +
    " --after --before --failed --show-types --user --system --no-ask-password --type= --state= --property= --lines=" +
    " --output= --legend= --timestamp= --with-dependencies --firmware-setup" + HELP, {
    subcommands: Object.fromEntries(SYSTEMCTL_VERBS.map((v) => [v, spec("")])),
    ownOptionsAfterSubcommand: true,
    subcommandOptional: true
  }),
  journalctl: spec("a e f k l m N q r x u: t: T: p: g: S: U: c: F: o: D: n? b? --all --pager-end --follow --dmesg --full" +
    " --merge --fields --quiet --reverse --catalog --no-pager --no-hostname --no-full --no-tail --utc --system --user" +
    " --header --disk-usage --list-boots --show-cursor --verify --unit= --user-unit= --identifier= --exclude-identifier=" +
    " --priority= --facility= --grep= --case-sensitive? --since= --until= --cursor= --after-cursor= --field= --output=" +
    " --output-fields= --directory= --file= --namespace= --lines? --boot?" + HELP, {
    nextIfMatches: { "-n": LINES, "--lines": LINES, "-b": BOOT, "--boot": BOOT }
  }),
  docker: spec("--help", { subcommands: DOCKER_SUBCOMMANDS }),
  podman: spec("--help", { subcommands: DOCKER_SUBCOMMANDS }),
  git: spec("C: P --no-pager --no-optional-locks --help --version", { subcommands: GIT_SUBCOMMANDS })
}
