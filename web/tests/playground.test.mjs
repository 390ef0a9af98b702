// Drives the playground in Debian's Chromium, headless, and checks it against the compiled admission
// policy: for the TEP example the page must show the very sidecar container that policy.wasm adds to the
// Pod fixture the e2e suite uses, and for the misspelled field the very message policy.wasm gives.
//
// Run by `make web-tests` (after web/pkg/ is built): KWCTL is the kwctl (or in-repo runner) to ask, POLICY
// the module, SCREENSHOTS where the pictures go. Serves web/ itself, as any static file server would.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync, readFileSync } from "node:fs";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const WEB = resolve(fileURLToPath(new URL("..", import.meta.url)));
const ROOT = resolve(WEB, "..");
const KWCTL = process.env.KWCTL ?? join(ROOT, "target/runner/kwctl-runner");
const POLICY = process.env.POLICY ?? join(ROOT, "policy.wasm");
const SCREENSHOTS = process.env.SCREENSHOTS ?? join(ROOT, "target/web-tests");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".yaml": "text/yaml" };

/** What the compiled policy answers for a fixture request, as `kwctl run` prints it. */
function kwctlRun(request) {
  const output = execFileSync(KWCTL, ["run", "--request-path", join(ROOT, "test_data", request), POLICY], { encoding: "utf8" });
  return JSON.parse(output.trim().split("\n").pop());
}

let server;
let browser;
let base;

before(async () => {
  server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname)).replace(/^([/\\])+/, "");
    const file = join(WEB, path === "" ? "index.html" : path);
    if (!file.startsWith(WEB)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(file);
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((ready) => server.listen(0, "127.0.0.1", ready));
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** A fresh page with the playground loaded, failing the test on any error the page logs. */
async function openPlayground() {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (entry) => { if (entry.type() === "error") errors.push(entry.text()); });
  await page.goto(base);
  await page.waitForSelector("body[data-ready=true]");
  return { page, errors };
}

async function loadExample(page, name) {
  await page.click(`[data-example="${name}"]`);
  await page.waitForSelector('#status[data-state="done"]');
}

test("the TEP example shows the sidecar container the compiled policy adds to the e2e Pod fixture", async () => {
  const { page, errors } = await openPlayground();
  await loadExample(page, "tep-golang-test");

  const patch = JSON.parse(Buffer.from(kwctlRun("pod-tep-hub.json").patch, "base64").toString());
  const expected = patch.find((op) => op.op === "add" && op.path === "/spec/containers/1").value;
  const added = page.locator('[data-task="test"] .entry[data-change="added"]');
  assert.equal(await added.count(), 1);
  assert.ok(await added.isVisible(), "the added container is on screen");
  assert.equal(await added.getAttribute("data-name"), "sidecar-postgres");
  assert.deepEqual(JSON.parse(await added.getAttribute("data-json")), expected);
  const yaml = await added.locator("pre").innerText();
  assert.match(yaml, /^name: sidecar-postgres\n/);
  assert.match(yaml, /\nimage: postgres:14\n/);
  // golang-test has one step: its Pod does not show whether the step shares `source`, so the sidecar,
  // which does not list it, gets no mount (README, `one-step-shared-workspace`).
  assert.doesNotMatch(yaml, /volumeMounts/);
  assert.equal(await page.getAttribute('[data-task="test"]', "data-shown"), "Pod");
  assert.match(await page.innerText('[data-task="test"] h3'), /injected: postgres/);
  assert.equal(await page.locator('[data-task="fetch"] .entry[data-change="added"]').count(), 0);
  assert.match(await page.innerText("#messages"), /The policy accepts the PipelineRun\./);

  await page.screenshot({ path: join(SCREENSHOTS, "tep-golang-test.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("the misspelled field shows the message the compiled policy gives", async () => {
  const { page, errors } = await openPlayground();
  await loadExample(page, "misspelled-field");

  const response = kwctlRun("pipelinerun-typo.json");
  assert.equal(response.allowed, false);
  assert.ok(await page.isVisible('.message[data-kind="pipelinerun"]'), "the message is on screen");
  const shown = await page.innerText('.message[data-kind="pipelinerun"] pre');
  assert.equal(shown, response.status.message);
  assert.equal(await page.locator(".task").count(), 0);

  await page.screenshot({ path: join(SCREENSHOTS, "misspelled-field.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("the docker-in-docker template joins the inline task's sidecars", async () => {
  const { page, errors } = await openPlayground();
  await loadExample(page, "dind-template");

  assert.equal(await page.getAttribute('[data-task="build"]', "data-shown"), "TaskRun");
  const added = page.locator('[data-task="build"] .entry[data-change="added"]');
  assert.equal(await added.count(), 1);
  assert.ok(await added.isVisible(), "the added sidecar is on screen");
  assert.equal(await added.getAttribute("data-list"), "sidecars");
  const sidecar = JSON.parse(await added.getAttribute("data-json"));
  assert.equal(sidecar.name, "dind");
  assert.equal(sidecar.image, "docker.io/library/docker:27-dind");
  assert.deepEqual(sidecar.securityContext, { privileged: true });
  assert.deepEqual(sidecar.readinessProbe, { tcpSocket: { port: 2375 }, periodSeconds: 2 });
  assert.match(await page.innerText("#notes"), /metadata\.name is not set/);

  await page.screenshot({ path: join(SCREENSHOTS, "dind-template.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("a pasted Pipeline and Tasks resolve a pipelineRef, in one multi-document input", async () => {
  const { page, errors } = await openPlayground();
  await loadExample(page, "tep-golang-test");
  // The TEP PipelineRun with its pipelineSpec moved into a Pipeline of its own, after the Task.
  const pipelinerun = await page.inputValue("#pipelinerun");
  const [head, pipelineSpec] = pipelinerun.split("spec:\n  pipelineSpec:\n");
  const [pipelineBody, rest] = pipelineSpec.split("\n  params:\n");
  const pipeline = `apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: go-integration\nspec:\n${pipelineBody.replace(/^  /gm, "")}\n`;
  await page.fill("#tasks", `${await page.inputValue("#tasks")}---\n${pipeline}`);
  await page.fill("#pipelinerun", `${head}spec:\n  pipelineRef:\n    name: go-integration\n  params:\n${rest}`);
  // Both edits are simulated once typing pauses: wait for the Pod of the resolved Pipeline.
  await page.waitForFunction(() => {
    const pod = document.querySelector('[data-task="test"] details.object pre');
    return pod !== null && JSON.parse(pod.textContent).metadata.labels["tekton.dev/pipeline"] === "go-integration";
  });
  assert.equal(await page.getAttribute('[data-task="test"] .entry[data-change="added"]', "data-name"), "sidecar-postgres");
  assert.deepEqual(await page.locator(".task").evaluateAll((tasks) => tasks.map((t) => t.dataset.task)), ["fetch", "test"]);
  assert.deepEqual(errors, []);
  await page.close();
});

test("edits are simulated as they are typed, and wrong settings get validate_settings' message", async () => {
  const { page, errors } = await openPlayground();
  await loadExample(page, "tep-golang-test");

  await page.fill("#settings", "onConflit: reject\n");
  await page.waitForSelector('.message[data-kind="settings"]');
  assert.equal(
    await page.innerText('.message[data-kind="settings"] pre'),
    'settings.onConflit: unknown field; did you mean "onConflict"?',
  );
  assert.equal(await page.locator(".task").count(), 0);

  await page.fill("#settings", "");
  await page.fill("#pipelinerun", "kind: [PipelineRun\n");
  await page.waitForSelector('.message[data-kind="input"]');
  assert.equal(
    await page.innerText('.message[data-kind="input"] pre'),
    "PipelineRun: is not valid YAML or JSON: line 1 column 7: unclosed bracket '['",
  );

  assert.deepEqual(errors, []);
  await page.close();
});
