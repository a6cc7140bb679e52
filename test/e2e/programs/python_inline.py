"""A Python Automation API inline program on the generated SDK (sdk/python), served by the provider
plugin pulumi-resource-dualwrite, for test/e2e/python.test.ts.

No Python language host: the `pulumi` package's in-process language server answers the CLI.
Usage: python python_inline.py <params.json> <preview|up|destroy>. The parameters file names the
CLI, its environment, the state folder, the environments' URLs and the provider configuration.
The last line printed is the result as JSON.
"""

import json
import sys

import pulumi
import pulumi_dualwrite as dw
from pulumi import automation as auto


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        params = json.load(f)
    operation = sys.argv[2]

    def program() -> None:
        link = dw.DualWriteConnection(
            "link",
            scenario="new-new",
            finance_operations_url=params["financeOperationsUrl"],
            dataverse_url=params["dataverseUrl"],
            legal_entities=["DAT"],
        )
        companies = dw.EntityMapBinding(
            "companies", connection=link, map_name="cdm_companies - Legal entities"
        )
        currencies = dw.EntityMapBinding(
            "currencies", connection=link, map_name="transactioncurrencies - Currencies"
        )
        pulumi.export("linkedLegalEntities", link.linked_legal_entities)
        pulumi.export(
            "maps",
            {
                "cdm_companies - Legal entities": companies.observed_state,
                "transactioncurrencies - Currencies": currencies.observed_state,
            },
        )

    opts = auto.LocalWorkspaceOptions(
        pulumi_command=auto.PulumiCommand(params["cliDir"], skip_version_check=True),
        env_vars=params["env"],
        project_settings=auto.ProjectSettings(
            name="dualwrite-python",
            runtime="python",
            backend=auto.ProjectBackend(url=params["backendUrl"]),
        ),
    )
    stack = auto.create_or_select_stack(
        stack_name="dev", project_name="dualwrite-python", program=program, opts=opts
    )
    stack.set_all_config({k: auto.ConfigValue(v) for k, v in params["config"].items()})
    stack.set_all_config(
        {k: auto.ConfigValue(v, secret=True) for k, v in params["secrets"].items()}
    )
    output = {"on_output": print}
    if operation == "preview":
        result = stack.preview(**output)
        print(json.dumps({"changes": result.change_summary}))
    elif operation == "up":
        result = stack.up(**output)
        outputs = {k: v.value for k, v in result.outputs.items()}
        print(json.dumps({"result": result.summary.result, "outputs": outputs}))
    elif operation == "destroy":
        result = stack.destroy(**output)
        print(json.dumps({"result": result.summary.result}))
    else:
        raise SystemExit(f"unknown operation {operation}")


if __name__ == "__main__":
    main()
