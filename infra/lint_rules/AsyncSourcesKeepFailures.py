"""CareForAll's own cfn-lint rules: no asynchronous event source may lose or block on a failure.

E9001  a DynamoDB/Kinesis stream mapping must bound its retries (MaximumRetryAttempts), split
       failing batches (BisectBatchOnFunctionError), report partial failures
       (ReportBatchItemFailures) and keep what still fails (DestinationConfig.OnFailure).
       Lambda's defaults retry a poison record for 24 h and block the shard meanwhile.
E9002  an SQS queue that feeds a function must have a RedrivePolicy (a dead-letter queue), so a
       poison message ends somewhere ops can see instead of cycling until retention drops it.
"""

from __future__ import annotations

import json
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch


def _is_stream(source: Any) -> bool:
    text = json.dumps(source)
    return "StreamArn" in text or ":kinesis:" in text or ":dynamodb:" in text


def _queue_logical_id(source: Any) -> str | None:
    if isinstance(source, dict) and "Fn::GetAtt" in source:
        target = source["Fn::GetAtt"]
        logical_id, attribute = target.split(".", 1) if isinstance(target, str) else target
        return logical_id if attribute == "Arn" else None
    return None


class StreamMappingsKeepFailures(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "Stream event source mappings bound retries and keep failures"
    description = "Stream mappings need MaximumRetryAttempts, BisectBatchOnFunctionError, " \
                  "ReportBatchItemFailures and an OnFailure destination"
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html"
    tags = ["careforall", "lambda", "reliability"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, resource in cfn.get_resources(["AWS::Lambda::EventSourceMapping"]).items():
            props = resource.get("Properties") or {}
            if not _is_stream(props.get("EventSourceArn")):
                continue
            path = ["Resources", name, "Properties"]
            if "MaximumRetryAttempts" not in props or props.get("MaximumRetryAttempts") == -1:
                matches.append(RuleMatch(path, f"{name}: set MaximumRetryAttempts (the default retries for 24 h)"))
            if props.get("BisectBatchOnFunctionError") is not True:
                matches.append(RuleMatch(path, f"{name}: set BisectBatchOnFunctionError: true"))
            if "ReportBatchItemFailures" not in (props.get("FunctionResponseTypes") or []):
                matches.append(RuleMatch(path, f"{name}: add ReportBatchItemFailures to FunctionResponseTypes"))
            if not ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"):
                matches.append(RuleMatch(path, f"{name}: set DestinationConfig.OnFailure.Destination"))
        return matches


class QueuesFeedingFunctionsHaveDeadLetters(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "SQS queues consumed by Lambda have a dead-letter queue"
    description = "A queue behind an event source mapping needs a RedrivePolicy"
    source_url = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
    tags = ["careforall", "sqs", "reliability"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        queues = cfn.get_resources(["AWS::SQS::Queue"])
        for name, resource in cfn.get_resources(["AWS::Lambda::EventSourceMapping"]).items():
            queue = _queue_logical_id((resource.get("Properties") or {}).get("EventSourceArn"))
            if queue in queues and not (queues[queue].get("Properties") or {}).get("RedrivePolicy"):
                matches.append(RuleMatch(["Resources", queue, "Properties"],
                                         f"{queue} feeds {name} but has no RedrivePolicy (dead-letter queue)"))
        return matches
