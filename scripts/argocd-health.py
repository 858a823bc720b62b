#!/usr/bin/env python3
"""Runs an Argo CD resource health check (Lua) the way Argo CD does: the object as the global
`obj`, the script's returned table {status, message} as the result. Lua is lupa's bundled
interpreter (scripts/python-deps.sh installs it).

  argocd-health.py SCRIPT.lua < objects.json     # a JSON list of objects
prints a JSON list of {"status": ..., "message": ...}, one per object. Used by tests/gitops.rs.
"""

import json
import sys

import lupa


def to_lua(lua, value):
    if isinstance(value, dict):
        return lua.table_from({k: to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, v) for v in value])
    return value


def main():
    script = open(sys.argv[1]).read()
    results = []
    for obj in json.load(sys.stdin):
        lua = lupa.LuaRuntime(unpack_returned_tuples=True)
        lua.globals().obj = to_lua(lua, obj)
        # Argo CD runs the script as a chunk and reads the table it returns.
        hs = lua.execute(script)
        results.append({"status": hs["status"], "message": hs["message"]})
    json.dump(results, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
