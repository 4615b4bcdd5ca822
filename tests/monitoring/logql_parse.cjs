// Parse LogQL queries with Grafana's own grammar (@grafana/lezer-logql, the parser of Grafana's query
// editor). stdin: JSON list of queries; stdout: [{errors: [offsets], identifiers: [label names]}].
// argv[2]: the node_modules folder holding the grammar (tests/workflows/node_modules).
const path = require("path");
const { parser } = require(path.join(process.argv[2], "@grafana/lezer-logql"));
const queries = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(queries.map((q) => {
  const errors = [];
  const identifiers = [];
  parser.parse(q).iterate({ enter: (n) => {
    if (n.type.isError) errors.push(n.from);
    if (n.name === "Identifier") identifiers.push(q.slice(n.from, n.to));
  } });
  return { errors, identifiers };
})));
