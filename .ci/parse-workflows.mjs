// Parse GitHub Actions workflow files with GitHub's own parser (@actions/workflow-parser,
// as .ci/node locks it) and fail on any error it reports: the schema, expressions, and
// what the runner checks when it converts a workflow (jobs, needs, matrices).
//
//   node .ci/parse-workflows.mjs NODE_TOOLS_DIR FILE...
//
// NODE_TOOLS_DIR: where .ci/node-tools installed the packages.

import { readFileSync } from "node:fs";
import { register } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// The package imports its JSON schemas without `with { type: "json" }`, which Node.js
// requires: a loader hook adds that attribute to its .json imports.
const hook = `export async function load(url, context, next) {
  if (url.endsWith(".json")) {
    return next(url, { ...context, importAttributes: { type: "json" } });
  }
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

const [toolsDir, ...files] = process.argv.slice(2);
if (!toolsDir || files.length === 0) {
  console.error("usage: node .ci/parse-workflows.mjs NODE_TOOLS_DIR FILE...");
  process.exit(2);
}
const parser = await import(
  pathToFileURL(join(toolsDir, "node_modules", "@actions", "workflow-parser", "dist", "index.js")).href
);

let failed = false;
for (const name of files) {
  const result = parser.parseWorkflow(
    { name, content: readFileSync(name, "utf8") },
    new parser.NoOperationTraceWriter(),
  );
  let errors = result.context.errors.getErrors();
  if (errors.length === 0) {
    if (result.value === undefined) {
      errors = [{ message: "the file holds no workflow" }];
    } else {
      await parser.convertWorkflowTemplate(result.context, result.value);
      errors = result.context.errors.getErrors();
    }
  }
  for (const error of errors) {
    console.error(`${name}: ${error.message}`);
  }
  failed ||= errors.length > 0;
  if (errors.length === 0) {
    console.log(`${name}: ok`);
  }
}
process.exit(failed ? 1 : 0);
