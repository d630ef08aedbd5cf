"""Checks an OpenAPI 3.1 document read from stdin with standard validators; prints each problem, exits 1 on any.

With --response, reads {"document", "path", "method", "status", "body"} instead and checks the body against
the schema the document declares for that answer (JSON Schema 2020-12, references resolved in the document).

openapi-spec-validator checks the document's structure; it does not look inside Schema Objects, so each one
is also checked against the JSON Schema 2020-12 meta-schema (what OpenAPI 3.1 schemas are), and OpenAPI 3.0
keywords that 3.1 no longer has (`nullable`) are refused: they are silently ignored by 3.1 tools.
"""

import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate


def check_response(given):
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    doc = given["document"]
    escaped = given["path"].replace("~", "~0").replace("/", "~1")
    pointer = f"#/paths/{escaped}/{given['method'].lower()}/responses/{given['status']}"
    response = doc["paths"][given["path"]][given["method"].lower()]["responses"].get(str(given["status"]))
    if response is None:
        print(f"{given['method']} {given['path']}: status {given['status']} is not declared")
        return 1
    if "$ref" in response:
        pointer = response["$ref"]
        response = doc["components"]["responses"][pointer.rsplit("/", 1)[1]]
    schema = {"$ref": f"urn:openapi{pointer}/content/application~1json/schema"}
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(doc, DRAFT202012))
    validator = Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = list(validator.iter_errors(given["body"]))
    for error in errors:
        print(f"{given['method']} {given['path']} {given['status']} /{'/'.join(map(str, error.absolute_path))}: {error.message}")
    return 1 if errors else 0


if "--response" in sys.argv:
    sys.exit(check_response(json.load(sys.stdin)))

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
