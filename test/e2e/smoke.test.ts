/**
 * End-to-end smoke test: the real Pulumi CLI from the toolchain runs a small program with one
 * dynamic resource (no network) through the Automation API, over a temporary local backend:
 * stack init (with a secret in the config), preview, up, a second preview that must show no
 * changes, refresh, an in-place update, destroy, stack rm.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { EngineStack, engineCliVersion } from "../support/engine";

interface GreetingInputs {
  readonly salutation: string;
  readonly name: string;
}

/** The secret config value; the test checks it never reaches the state in plain text. */
const API_TOKEN = "smoke-token-4f1c9b";

/**
 * A provider with no I/O: the "resource" is a greeting computed from its inputs. It is serialized
 * into the state, so it captures nothing.
 */
const greetingProvider: pulumi.dynamic.ResourceProvider<GreetingInputs> = {
  create(inputs: GreetingInputs): Promise<pulumi.dynamic.CreateResult> {
    return Promise.resolve({
      id: `greeting-${inputs.name}`,
      outs: { ...inputs, text: `${inputs.salutation}, ${inputs.name}!` },
    });
  },
  diff(
    _id: string,
    olds: GreetingInputs,
    news: GreetingInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    const renamed = olds.name !== news.name;
    const changed = renamed || olds.salutation !== news.salutation;
    return Promise.resolve({ changes: changed, replaces: renamed ? ["name"] : [] });
  },
  update(
    _id: string,
    _olds: GreetingInputs,
    news: GreetingInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    return Promise.resolve({ outs: { ...news, text: `${news.salutation}, ${news.name}!` } });
  },
  delete(): Promise<void> {
    return Promise.resolve();
  },
};

/** The one dynamic resource of the smoke program. */
class Greeting extends pulumi.dynamic.Resource {
  /** The computed greeting. */
  declare readonly text: pulumi.Output<string>;

  constructor(
    name: string,
    args: { salutation: pulumi.Input<string>; name: pulumi.Input<string> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(greetingProvider, name, { ...args, text: undefined }, opts, "smoke", "Greeting");
  }
}

function smokeProgram(): Promise<Record<string, unknown>> {
  const config = new pulumi.Config();
  const greeting = new Greeting("hello", {
    salutation: config.require("salutation"),
    name: "dual-write",
  });
  return Promise.resolve({
    greetingId: greeting.id,
    text: greeting.text,
    apiToken: config.requireSecret("apiToken"),
  });
}

describe("e2e smoke: the real Pulumi CLI runs a dynamic resource", function () {
  let stack: EngineStack | undefined;

  function current(): EngineStack {
    if (!stack) throw new Error("the stack was not created");
    return stack;
  }

  before(async function () {
    process.stdout.write(
      `      Pulumi CLI ${await engineCliVersion()} (from .toolchain/bin/pulumi)\n`,
    );
  });

  after(async function () {
    await stack?.dispose();
  });

  it("initializes a stack on a local file backend, with plain and secret config", async function () {
    stack = await EngineStack.create({
      projectName: "smoke",
      program: smokeProgram,
      config: { salutation: "Hello" },
      secrets: { apiToken: API_TOKEN },
    });
    expect(await stack.stackNames()).to.include(stack.name);
  });

  it("previews the creation of the stack and the greeting", async function () {
    const preview = await current().preview();
    expect(preview.changeSummary).to.deep.equal({ create: 2 });
  });

  it("creates the greeting with up and exports its computed output", async function () {
    const result = await current().up();
    expect(result.summary.result).to.equal("succeeded");
    expect(result.summary.resourceChanges).to.deep.equal({ create: 2 });
    expect(result.outputs.text?.value).to.equal("Hello, dual-write!");
    expect(result.outputs.greetingId?.value).to.equal("greeting-dual-write");
    expect(result.outputs.apiToken).to.deep.equal({ value: API_TOKEN, secret: true });
  });

  it("keeps the secret config value encrypted in the state", async function () {
    const state = await current().stateText();
    expect(state).to.include("greeting-dual-write");
    expect(state).to.not.include(API_TOKEN);
  });

  it("previews no changes the second time (expectNoChanges)", async function () {
    const preview = await current().preview({ expectNoChanges: true });
    expect(preview.changeSummary).to.deep.equal({ same: 2 });
  });

  it("refreshes without finding drift (expectNoChanges)", async function () {
    const refresh = await current().refresh({ expectNoChanges: true });
    expect(refresh.summary.result).to.equal("succeeded");
  });

  it("updates the greeting in place when the config changes", async function () {
    await current().setConfig({ salutation: "Good morning" });
    const result = await current().up();
    expect(result.summary.resourceChanges).to.deep.equal({ same: 1, update: 1 });
    expect(result.outputs.text?.value).to.equal("Good morning, dual-write!");
  });

  it("destroys the greeting and removes the stack", async function () {
    const result = await current().destroy();
    expect(result.summary.resourceChanges).to.deep.equal({ delete: 2 });
    await current().remove();
    expect(await current().stackNames()).to.not.include(current().name);
  });
});
