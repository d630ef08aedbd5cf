"""Checks an OpenAPI 3.1 document read from stdin with standard validators; prints each problem, exits 1 on any.

openapi-spec-validator checks the document's structure; it does not look inside Schema Objects, so each one
is also checked against the JSON Schema 2020-12 meta-schema (what OpenAPI 3.1 schemas are), and OpenAPI 3.0
keywords that 3.1 no longer has (`nullable`) are refused: they are silently ignored by 3.1 tools.
"""

import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

doc = json.load(sys.stdin)
problems = []
try:
    validate(doc)
except Exception as error:  # noqa: BLE001 - any validation error is a problem to print
    problems.append(f"document: {str(error).splitlines()[0]}")

if not str(doc.get("openapi", "")).startswith("3.1"):
    problems.append(f"document: openapi is {doc.get('openapi')!r}, not 3.1.x")


def schemas(node, path):
    """Every Schema Object of the document, with its JSON pointer."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}/{key}"
            if key == "schema" and isinstance(value, dict):
                yield here, value
            elif path == "#/components/schemas":
                yield here, value
            else:
                yield from schemas(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schemas(value, f"{path}/{i}")


def nullable(node, path):
    if isinstance(node, dict):
        if "nullable" in node and not isinstance(node.get("properties", {}).get("nullable"), dict):
            yield path
        for key, value in node.items():
            if key != "properties":
                yield from nullable(value, f"{path}/{key}")
            elif isinstance(value, dict):
                for name, sub in value.items():
                    yield from nullable(sub, f"{path}/properties/{name}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from nullable(value, f"{path}/{i}")


count = 0
for pointer, schema in schemas(doc, "#"):
    count += 1
    for error in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema):
        where = "/".join(str(p) for p in error.absolute_path)
        problems.append(f"{pointer}/{where}: {error.message}")
    for where in nullable(schema, pointer):
        problems.append(f"{where}: nullable is OpenAPI 3.0; use a type array with 'null'")

for problem in problems:
    print(problem)
print(f"{count} schemas checked, {len(problems)} problems", file=sys.stderr)
sys.exit(1 if problems else 0)
