// The playground page: reads the three inputs, asks the policy's domain code (compiled with wasm-bindgen,
// web/pkg/) what happens to each pipeline task, and shows it. Every decision and every message comes from
// that code; this file only lays the answer out.

import init, { simulate, policy_version } from "./pkg/pipelinerun_sidecars_playground.js";

const PARTS = ["pipelinerun", "tasks", "settings"];
const inputs = PARTS.map((id) => document.getElementById(id));
const status = document.getElementById("status");
const messages = document.getElementById("messages");
const results = document.getElementById("results");
const notes = document.getElementById("notes");

const CHANGE_LABEL = { added: "added by the policy", replaced: "replaced by the policy", unchanged: "unchanged" };
const SHOWN = {
  TaskRun: "TaskRun spec.taskSpec.sidecars (the Task is inline: Tekton runs the sidecars as its own)",
  Pod: "Pod containers (the Task is referenced: the sidecars join its Pod)",
};

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function message(kind, title, text) {
  return element("div", { class: `message ${kind}`, "data-kind": kind },
    element("strong", {}, title), element("pre", {}, text));
}

function entryView(entry) {
  const view = element(entry.change === "unchanged" ? "details" : "div", {
    class: `entry ${entry.change}`,
    "data-name": entry.name,
    "data-list": entry.list,
    "data-change": entry.change,
    "data-json": JSON.stringify(entry.value),
  });
  const title = `${entry.list}: ${entry.name} (${CHANGE_LABEL[entry.change]})`;
  view.append(element(entry.change === "unchanged" ? "summary" : "h4", {}, title), element("pre", {}, entry.yaml));
  return view;
}

function taskView(task) {
  const section = element("section", { class: "task", "data-task": task.name, "data-shown": task.shown });
  const injected = task.injected.length ? `injected: ${task.injected.join(", ")}` : "nothing injected";
  section.append(
    element("h3", {}, task.name, " ", element("small", {}, `${task.memberOf} · ${injected}`)),
    element("p", { class: "shown" }, SHOWN[task.shown]),
  );
  if (task.rejection) {
    section.append(message("rejected", `The policy rejects this task's ${task.rejection.kind}:`, task.rejection.message));
  }
  section.append(...task.entries.map(entryView));
  const whole = element("details", { class: "object" }, element("summary", {}, `The whole ${task.shown}, as JSON`),
    element("pre", {}, JSON.stringify(task.object, null, 2)));
  section.append(whole);
  return section;
}

function show(result) {
  messages.replaceChildren();
  results.replaceChildren();
  notes.replaceChildren();
  for (const error of result.inputErrors) {
    messages.append(message("input", "This input cannot be used:", error));
  }
  if (result.settingsError) {
    messages.append(message("settings", "The policy would not load with these settings (validate_settings):", result.settingsError));
  }
  if (result.pipelinerunRejection) {
    messages.append(message("pipelinerun", "The policy rejects the PipelineRun:", result.pipelinerunRejection));
  } else if (!result.inputErrors.length && !result.settingsError) {
    messages.append(message("accepted", "The policy accepts the PipelineRun.", "Its tasks get what follows."));
  }
  results.append(...result.tasks.map(taskView));
  notes.append(...result.notes.map((note) => element("li", {}, note)));
}

function run() {
  const [pipelinerun, tasks, settings] = inputs.map((input) => input.value);
  if (!pipelinerun.trim()) {
    status.dataset.state = "idle";
    status.textContent = "Load an example or paste a PipelineRun.";
    show({ inputErrors: [], tasks: [], notes: [] });
    return;
  }
  try {
    show(JSON.parse(simulate(pipelinerun, tasks, settings)));
    status.dataset.state = "done";
    status.textContent = "What the policy does:";
  } catch (error) {
    // The domain code never panics on input; if it ever did, say so rather than show stale results.
    status.dataset.state = "failed";
    status.textContent = `The playground failed: ${error}`;
  }
}

// An example is the files its button lists (data-files); the inputs it has no file for are emptied.
async function loadExample(button) {
  status.dataset.state = "loading";
  const name = button.dataset.example;
  const given = button.dataset.files.split(" ");
  const files = await Promise.all(PARTS.map(async (part) => {
    if (!given.includes(part)) return "";
    const response = await fetch(`examples/${name}/${part}.yaml`);
    if (!response.ok) throw new Error(`examples/${name}/${part}.yaml: ${response.status}`);
    return response.text();
  }));
  inputs.forEach((input, i) => { input.value = files[i]; });
  run();
}

let timer;
for (const input of inputs) {
  input.addEventListener("input", () => {
    clearTimeout(timer);
    status.dataset.state = "editing";
    timer = setTimeout(run, 250);
  });
}
for (const button of document.querySelectorAll("[data-example]")) {
  button.addEventListener("click", () => loadExample(button).catch((error) => {
    status.dataset.state = "failed";
    status.textContent = `The example cannot be loaded: ${error.message}`;
  }));
}

await init();
document.getElementById("version").textContent = `policy v${policy_version()}`;
document.body.dataset.ready = "true";
const requested = new URLSearchParams(location.search).get("example");
const example = requested && document.querySelector(`[data-example="${CSS.escape(requested)}"]`);
if (example) await loadExample(example);
