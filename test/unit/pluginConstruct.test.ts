/**
 * The plugin's `construct` before it registers anything: it serves only the component's token,
 * and refuses plan-shaping inputs that are not plain values (secrets, other resources' outputs),
 * naming them — the component decides from them which resources to make. What it makes is tested
 * end to end in test/e2e/yaml.test.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { constructComponent } from "../../provider/plugin/construct";

const NO_OUTPUTS = () => [];

describe("plugin construct", () => {
  it("refuses a component type the schema does not declare", async () => {
    const error = await constructComponent("x", "dualwrite:index:Other", {}, {}, NO_OUTPUTS).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.equal(
      "pulumi-resource-dualwrite: unknown component type dualwrite:index:Other",
    );
  });

  it("names the plan-shaping inputs that are outputs, and accepts outputs for the URLs", async () => {
    const inputs = {
      scenario: "new-new",
      financeOperationsUrl: pulumi.output("https://fo.example"),
      dataverseUrl: pulumi.output("https://dv.example"),
      maps: pulumi.secret([{ name: "accounts - Customers V3" }]),
      forceReset: pulumi.output(true),
    };
    const error = await constructComponent(
      "setup",
      "dualwrite:index:DualWriteScenario",
      inputs,
      {},
      NO_OUTPUTS,
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.match(/^DualWriteScenario setup: maps, forceReset must be known/);
    expect(error?.message).to.not.include("financeOperationsUrl");
  });
});
