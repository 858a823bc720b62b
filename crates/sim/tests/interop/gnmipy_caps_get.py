"""gnmi-py against fabric-sim: Capabilities and Get.

usage: gnmipy_caps_get.py HOST PORT USERNAME PASSWORD
"""
import json
import sys

from gnmi.proto import gnmi_pb2 as pb
from gnmi.session import Session

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def fail(msg):
    print(f"FAIL {msg}", flush=True)
    sys.exit(1)


sess = Session((host, port), metadata={"username": user, "password": password}, insecure=True)

caps = sess.capabilities()
names = [m["name"] for m in caps.supported_models]
if "openconfig-interfaces" not in names:
    fail(f"models: {names}")
if caps.gnmi_version != "0.10.0":
    fail(f"version: {caps.gnmi_version}")
encodings = list(caps.supported_encodings)
print(f"capabilities: {len(names)} models, encodings {encodings}", flush=True)


def path(*elems):
    """gnmi-py 0.7.1's generated code predates protobuf 4, which its
    grpcio-tools dependency brings on Python 3.11: under the pure-Python
    runtime the PathElem.key map loads as a repeated KeyEntry, so its string
    parser (Path_.from_string) and path printer fail on keyed paths. The
    paths are built from its generated messages instead (a map is repeated
    entries on the wire) and the answer is read from the raw messages;
    Session.get does the RPC."""
    out = pb.Path()
    for name, keys in elems:
        e = out.elem.add()
        e.name = name
        for k, v in keys.items():
            entry = e.key.add()
            entry.key = k
            entry.value = v
    return out


def path_str(p):
    parts = []
    for e in p.elem:
        parts.append(e.name + "".join(f"[{k.key}={k.value}]" for k in e.key))
    return "/" + "/".join(parts)


hostname = path(("system", {}), ("config", {}), ("hostname", {}))
lo0 = path(("interfaces", {}), ("interface", {"name": "Loopback0"}), ("config", {}), ("description", {}))
resp = sess.get([hostname, lo0], {"encoding": "json_ietf", "prefix": pb.Path()})
got = {}
for notif in resp.raw.notification:
    for update in notif.update:
        got[path_str(update.path)] = json.loads(update.val.json_ietf_val)
print(f"get: {got}", flush=True)
if not any("leaf1" in str(v) for v in got.values()):
    fail("hostname leaf1 not in the answer")
if not any("router id" in str(v) for v in got.values()):
    fail("Loopback0 description not in the answer")
print("OK", flush=True)
