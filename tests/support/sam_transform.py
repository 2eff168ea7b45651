"""Transform template.yaml offline with the SAM translator, as CloudFormation would on deploy.

Run with the aws-sam-cli venv's interpreter (it holds samtranslator):

    .venv-sam/bin/python tests/support/sam_transform.py TEMPLATE PARAMS_JSON > transformed.json

CodeUri/ContentUri/DefinitionUri become S3 locations (as `sam package` leaves them) and AWS managed
policy ARNs come from a fixed map instead of the IAM API, so nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

MANAGED = ("AWSXrayWriteOnlyAccess", "service-role/AWSLambdaBasicExecutionRole", "AWSXRayDaemonWriteAccess")


class OfflinePolicies:
    def load(self) -> dict[str, str]:
        return {name.rsplit("/", 1)[-1]: f"arn:aws:iam::aws:policy/{name}" for name in MANAGED}


def main(template_path: str, parameters: str) -> None:
    values = json.loads(parameters)
    os.environ.setdefault("AWS_DEFAULT_REGION", values.get("AWS::Region", "us-east-1"))
    template = yaml_parse(Path(template_path).read_text(encoding="utf-8"))
    template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://deploy-bucket/code.zip"
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::StateMachine":
            resource["Properties"]["DefinitionUri"] = "s3://deploy-bucket/fanout.asl.json"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://deploy-bucket/layer.zip"
    json.dump(transform(template, values, OfflinePolicies()), sys.stdout, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
