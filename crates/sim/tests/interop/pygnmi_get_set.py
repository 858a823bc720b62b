"""pygnmi against fabric-sim: Get (JSON_IETF, several paths, prefix-free), Set
(update + delete in one request), and a refused Set that names its path.

usage: pygnmi_get_set.py HOST PORT USERNAME PASSWORD
"""
import sys

from pygnmi.client import gNMIclient

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
DESC = "/interfaces/interface[name=Ethernet1]/config/description"


def fail(msg):
    print(f"FAIL {msg}", flush=True)
    sys.exit(1)


def values(resp):
    out = []
    for n in resp.get("notification", []):
        for u in n.get("update", []):
            out.append((u["path"], u["val"]))
    return out


with gNMIclient(target=(host, port), username=user, password=password, insecure=True) as gc:
    resp = gc.get(path=["/system/config/hostname", "/interfaces/interface[name=Ethernet1]/config"],
                  encoding="json_ietf")
    got = values(resp)
    if len(got) != 2:
        fail(f"expected 2 updates, got {got}")
    if "leaf1" not in str(got[0][1]):
        fail(f"hostname: {got[0]}")
    if "to spine1" not in str(got[1][1]):
        fail(f"Ethernet1 config: {got[1]}")

    resp = gc.set(update=[("/interfaces/interface[name=Ethernet1]/config", {"description": "set by pygnmi"})],
                  encoding="json_ietf")
    if len(resp.get("response", [])) != 1:
        fail(f"set response: {resp}")
    got = values(gc.get(path=[DESC], encoding="json_ietf"))
    if "set by pygnmi" not in str(got):
        fail(f"after set: {got}")

    try:
        gc.set(update=[("/interfaces/interface[name=Ethernet1]/config", {"colour": "red"})],
               encoding="json_ietf")
        fail("a Set of an unknown leaf succeeded")
    except Exception as e:  # pygnmi wraps the RpcError
        text = str(e)
        if "colour" not in text or "unknown path" not in text:
            fail(f"unexpected error for the unknown leaf: {text}")

print("OK", flush=True)
