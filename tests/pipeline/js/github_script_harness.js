// Runs a workflow's actions/github-script `script:` under node with recording fakes of
// `github`, `context` and `core`, the way github-script wraps it in an async function.
// Usage: node github_script_harness.js SCRIPT_FILE SCENARIO_JSON; prints the calls as JSON.
"use strict";
const fs = require("fs");

const [scriptFile, scenarioFile] = process.argv.slice(2);
const scenario = JSON.parse(fs.readFileSync(scenarioFile, "utf8"));
const calls = [];
const record = (name) => async (args) => {
  calls.push([name, args]);
  return { data: {} };
};
const github = {
  rest: {
    pulls: {
      list: async (args) => {
        calls.push(["pulls.list", args]);
        return { data: scenario.open_prs ?? [] };
      },
    },
    issues: {
      listComments: "issues.listComments",
      createComment: record("issues.createComment"),
      updateComment: record("issues.updateComment"),
    },
    actions: { listWorkflowRunArtifacts: "actions.listWorkflowRunArtifacts" },
  },
  paginate: async (endpoint, args) => {
    calls.push(["paginate", endpoint, args]);
    return endpoint === "issues.listComments" ? scenario.comments ?? [] : scenario.artifacts ?? [];
  },
};
const core = {
  info: (m) => calls.push(["core.info", m]),
  warning: (m) => calls.push(["core.warning", m]),
  setFailed: (m) => calls.push(["core.setFailed", m]),
};
const context = { payload: { workflow_run: scenario.run }, repo: { owner: "gym-org", repo: "gym" } };
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const body = fs.readFileSync(scriptFile, "utf8");
new AsyncFunction("github", "context", "core", "require", body)(github, context, core, require).then(
  () => process.stdout.write(JSON.stringify(calls)),
  (err) => {
    process.stderr.write(String(err && err.stack));
    process.exit(1);
  },
);
