// Interpretation of the backquoted shell commands in packetdrill scripts.
//
// The suites use them only to set kernel tunables (FreeBSD `sysctl -w net.inet.tcp.*`,
// Linux `sysctl -q net.ipv4.tcp_*`, Google's `set_sysctls.py /proc/sys/...=v`) and to
// run the suite's `defaults.sh` (docs/conformance-runner.md, "Profiles and sysctls"). A runner maps these onto
// stack settings instead of executing them; this module only says what each command
// would set. Mapping to a stack profile is the runner's job.

export type ShellAction =
  /** One tunable assignment. `name` is the dotted sysctl name (`net.ipv4.tcp_timestamps`). */
  | { kind: "sysctl"; name: string; value: string; via: "sysctl" | "set_sysctls.py" }
  /**
   * The suite's defaults script. `suite` is inferred from how it is invoked:
   * `./defaults.sh` is the kernel selftests layout, `../common/defaults.sh` and
   * `../../common/defaults.sh` are google/packetdrill's (docs/conformance-runner.md, "Profiles and sysctls").
   */
  | { kind: "defaults"; suite: "google-packetdrill" | "linux-selftests" | "unknown"; script: string }
  /** `/tmp/sysctl_restore_${PPID}.sh`: undoes set_sysctls.py; nothing to do for a fresh stack. */
  | { kind: "restore"; command: string }
  /** Anything else (pipelines, ethtool, ip, setkey, sockstat, a sysctl read, ...). */
  | { kind: "unknown"; command: string };

/**
 * Split one backquoted command (it may span lines) into what it sets. Command lists
 * (`;`, `&&`, `||`, newlines) are taken as a sequence of separate commands; a command
 * containing a pipe is reported whole as unknown.
 */
export function parseShellCommand(command: string): ShellAction[] {
  const actions: ShellAction[] = [];
  for (const simple of splitCommandList(command)) {
    if (simple.pipeline) {
      actions.push({ kind: "unknown", command: simple.text });
      continue;
    }
    actions.push(...interpret(simple.words, simple.text));
  }
  return actions;
}

interface SimpleCommand {
  words: string[];
  text: string;
  pipeline: boolean;
}

/**
 * A small POSIX-shell word splitter: quotes ('...' and "..."), backslash escapes and
 * line continuations, `#` comments, and the list operators `;` `&&` `||` and newline.
 * Redirections (`> f`, `2>&1`, `&> f`) are dropped: they do not change what is set.
 */
function splitCommandList(src: string): SimpleCommand[] {
  const out: SimpleCommand[] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  let pipeline = false;
  let start = 0;
  let skipNextWord = false; // the target of a redirection

  const endWord = () => {
    if (inWord) {
      if (skipNextWord) skipNextWord = false;
      else words.push(word);
    }
    word = "";
    inWord = false;
  };
  const endCommand = (end: number) => {
    endWord();
    const text = src.slice(start, end).replace(/\\\n/g, " ").replace(/\s+/g, " ").trim();
    if (words.length > 0) out.push({ words, text, pipeline });
    words = [];
    pipeline = false;
  };

  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "\\") {
      if (src[i + 1] === "\n") {
        i += 2; // line continuation
        continue;
      }
      word += src[i + 1] ?? "";
      inWord = true;
      i += 2;
      continue;
    }
    if (c === "'" || c === '"') {
      const close = src.indexOf(c, i + 1);
      const end = close < 0 ? src.length : close;
      word += src.slice(i + 1, end);
      inWord = true;
      i = end + 1;
      continue;
    }
    if (c === "#" && !inWord) {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    if (c === "\n" || c === ";") {
      endCommand(i);
      i++;
      start = i;
      continue;
    }
    if ((c === "&" && src[i + 1] === "&") || (c === "|" && src[i + 1] === "|")) {
      endCommand(i);
      i += 2;
      start = i;
      continue;
    }
    if (c === "|") {
      endWord();
      pipeline = true;
      i++;
      continue;
    }
    // Redirections: [n]>file, [n]>>file, &>file, n>&m, <file.
    const redir = /^(?:[0-9]*>&[0-9]+|&>>?|[0-9]*>>?|<)/.exec(src.slice(i));
    if (redir && (!inWord || /^[0-9]+$/.test(word))) {
      word = "";
      inWord = false;
      i += redir[0].length;
      if (!redir[0].includes(">&")) skipNextWord = true;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      endWord();
      i++;
      continue;
    }
    word += c;
    inWord = true;
    i++;
  }
  endCommand(src.length);
  return out;
}

function interpret(words: string[], text: string): ShellAction[] {
  const prog = words[0]!;
  const base = prog.slice(prog.lastIndexOf("/") + 1);
  if (base === "sysctl") {
    // sysctl [-w|-q|-n|-e ...] name=value ...; a bare name is a read (no effect).
    const assigns = words.slice(1).filter((w) => !w.startsWith("-"));
    const actions: ShellAction[] = [];
    for (const a of assigns) {
      const eq = a.indexOf("=");
      if (eq <= 0) return [{ kind: "unknown", command: text }];
      actions.push({ kind: "sysctl", name: a.slice(0, eq), value: a.slice(eq + 1), via: "sysctl" });
    }
    return actions.length > 0 ? actions : [{ kind: "unknown", command: text }];
  }
  if (base === "set_sysctls.py") {
    // Google's helper writes each /proc/sys/<path>=<value> and records the old value.
    const actions: ShellAction[] = [];
    for (const a of words.slice(1)) {
      const m = /^\/proc\/sys\/([^=]+)=(.*)$/.exec(a);
      if (!m) return [{ kind: "unknown", command: text }];
      actions.push({ kind: "sysctl", name: m[1]!.replace(/\//g, "."), value: m[2]!, via: "set_sysctls.py" });
    }
    return actions.length > 0 ? actions : [{ kind: "unknown", command: text }];
  }
  if (base === "defaults.sh" && words.length === 1) {
    const suite =
      prog === "./defaults.sh"
        ? "linux-selftests"
        : /^(\.\.\/)+common\/defaults\.sh$/.test(prog)
          ? "google-packetdrill"
          : "unknown";
    return [{ kind: "defaults", suite, script: prog }];
  }
  if (/^\/tmp\/sysctl_restore_.*\.sh$/.test(prog)) {
    return [{ kind: "restore", command: text }];
  }
  return [{ kind: "unknown", command: text }];
}

/**
 * The FreeBSD suite's state check `sockstat -4|-6 -P tcp -s | grep packetdril | grep -c
 * STATE | grep N`: passes when the count of the packetdrill process's TCP sockets in STATE
 * (sockstat's tcpstates[] names: TIME_WAIT, FIN_WAIT_2, ...) matches N. The runner
 * evaluates it against the sockets the script holds; this only recognises it.
 */
export interface SockstatCheck {
  family: 4 | 6;
  /** The engine's name of the state ("TIME-WAIT"). */
  state: string;
  /** What the last grep looks for in the count (digits: a substring match). */
  pattern: string;
  /**
   * `-p PORT`: every TCP endpoint on that local port, not only the script's sockets
   * (FreeBSD lists syncache entries, connections not yet accepted, as SYN_RCVD).
   */
  port?: number;
}

const SOCKSTAT_STATES: Record<string, string> = {
  CLOSED: "CLOSED",
  SYN_SENT: "SYN-SENT",
  SYN_RCVD: "SYN-RECEIVED",
  ESTABLISHED: "ESTABLISHED",
  CLOSE_WAIT: "CLOSE-WAIT",
  FIN_WAIT_1: "FIN-WAIT-1",
  CLOSING: "CLOSING",
  LAST_ACK: "LAST-ACK",
  FIN_WAIT_2: "FIN-WAIT-2",
  TIME_WAIT: "TIME-WAIT",
};

export function parseSockstatCheck(command: string): SockstatCheck | undefined {
  const m = /^\s*sockstat\s+-([46])\s+-P\s+tcp\s+-s\s*\|\s*grep\s+packetdril\s*\|\s*grep\s+-c\s+([A-Z_0-9]+)\s*\|\s*grep\s+([0-9]+)\s*$/.exec(command);
  if (m) {
    const state = SOCKSTAT_STATES[m[2]!];
    return state ? { family: m[1] === "4" ? 4 : 6, state, pattern: m[3]! } : undefined;
  }
  // By port: `sockstat -4 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 1` (also `-s -p 8080`).
  const p = /^\s*sockstat\s+-([46])\s+-P\s+tcp\s+(?:-s\s+-p\s+(\d+)|-p\s+(\d+)\s+-s)\s*\|\s*grep\s+-c\s+([A-Z_0-9]+)\s*\|\s*grep\s+([0-9]+)\s*$/.exec(command);
  if (!p) return undefined;
  const state = SOCKSTAT_STATES[p[4]!];
  return state ? { family: p[1] === "4" ? 4 : 6, state, pattern: p[5]!, port: Number(p[2] ?? p[3]) } : undefined;
}
