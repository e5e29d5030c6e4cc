#!/usr/bin/python3
"""Evaluate expressions with Mistral's own YAQL and Jinja evaluators.

Reads one JSON object per line on stdin: {"lang": "YAQL" | "Jinja" | "Template",
"expr": "...", "data": {...}}, and prints one JSON object per line: {"value":
...} with the result, or {"error": "..."} when Mistral rejects the
expression. "Template" is a whole string with its delimiters, evaluated as
Mistral evaluates a workflow value. Needs Debian's python3-mistral; the reference test of the expr
package runs it to check its cases against Mistral.
"""

import json
import sys

from mistral import expressions
from mistral.expressions import jinja_expression
from mistral.expressions import yaql_expression
from mistral_lib import utils


def evaluate(case):
    if case["lang"] == "Template":
        try:
            value = expressions.evaluate(case["expr"], case["data"])
            return {"value": json.loads(utils.to_json_str(value) or "null")}
        except Exception as e:  # noqa: BLE001
            return {"error": "%s: %s" % (type(e).__name__, e)}
    if case["lang"] == "Jinja":
        evaluator = jinja_expression.JinjaEvaluator
    else:
        evaluator = yaql_expression.YAQLEvaluator
    try:
        value = evaluator.evaluate(case["expr"], case["data"])
        return {"value": json.loads(utils.to_json_str(value) or "null")}
    except Exception as e:  # noqa: BLE001 (any rejection is an answer)
        return {"error": "%s: %s" % (type(e).__name__, e)}


def main():
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(evaluate(json.loads(line)), sort_keys=True))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
