#!/usr/bin/env python3
"""Lint and render a Helm chart with Helm's own Go engine (helm-python-sdk binds Helm's SDK; no
helm binary needed), and validate Kubernetes manifests against the API server's OpenAPI schemas
(kubernetes-validate, strict: unknown fields are errors).

Used by tests/chart.rs through the venv that scripts/python-deps.sh builds:

  helm-render.py helm CHART_DIR [--values FILE]... [--name NAME] [--namespace NS]
  helm-render.py validate FILE...

Prints one JSON document on stdout:
  helm:     {"lint": {...}, "files": [name], "manifests": {template: text}, "invalid": [...],
             "error": null | text}
`files` are the chart's non-template files as Helm loads them (after .helmignore): what `helm
show readme` and `helm package` see.
  validate: {"objects": N, "invalid": [...]}
`invalid` lists {"source", "kind", "name", "error"} for objects the schemas refuse; kinds the
schemas do not know (CRD instances such as ServiceMonitor) are listed in `unchecked` instead.
"""

import argparse
import json
import sys

import yaml

# The Kubernetes version whose schemas the objects are checked against: the API level the
# operator is built for (k8s-openapi feature v1_32 in Cargo.toml).
KUBERNETES = "1.32.0"


def check(documents, source, invalid, unchecked):
    import kubernetes_validate

    count = 0
    for doc in documents:
        if doc is None:
            continue
        count += 1
        kind = doc.get("kind", "")
        name = (doc.get("metadata") or {}).get("name", "")
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unchecked.append({"source": source, "kind": kind, "name": name})
        except kubernetes_validate.ValidationError as e:
            invalid.append(
                {"source": source, "kind": kind, "name": name, "error": str(e).splitlines()[0]}
            )
    return count


def helm(args):
    import helm_python

    values = {}
    for path in args.values:
        with open(path) as f:
            layer = yaml.safe_load(f) or {}
        values = merge(values, layer)
    out = {"lint": None, "files": [], "manifests": {}, "invalid": [], "unchecked": [], "error": None}
    out["lint"] = helm_python.lint(args.chart, values, strict=True, namespace=args.namespace)
    try:
        with helm_python.Chart.load(args.chart) as chart:
            out["files"] = sorted(f["name"] for f in chart.files)
            manifests = chart.render(
                values, name=args.name, namespace=args.namespace, is_install=True
            )
    except Exception as e:  # Helm's own message (e.g. a template's `fail`) is what the test reads.
        out["error"] = str(e)
        return out
    out["manifests"] = manifests
    for template, text in sorted(manifests.items()):
        if template.endswith(".yaml"):
            check(yaml.safe_load_all(text), template, out["invalid"], out["unchecked"])
    return out


def merge(base, layer):
    """Helm's values merge: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def validate(args):
    out = {"objects": 0, "invalid": [], "unchecked": []}
    for path in args.files:
        text = sys.stdin.read() if path == "-" else open(path).read()
        out["objects"] += check(yaml.safe_load_all(text), path, out["invalid"], out["unchecked"])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    h = sub.add_parser("helm")
    h.add_argument("chart")
    h.add_argument("--values", action="append", default=[])
    h.add_argument("--name", default="fabric-operator")
    h.add_argument("--namespace", default="fabric-system")
    v = sub.add_parser("validate")
    v.add_argument("files", nargs="+")
    args = parser.parse_args()
    result = helm(args) if args.command == "helm" else validate(args)
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
