"""Interoperability check: pygnmi (a third-party client built on the
reference gnmi.proto) against the crate's generated server, via the
`mem_target` example.

    cargo run -p fabric-gnmi --example mem_target -- 127.0.0.1:50051 60 &
    python3 -m venv /tmp/pyg && /tmp/pyg/bin/pip install pygnmi
    /tmp/pyg/bin/python crates/gnmi/interop/pygnmi_check.py 127.0.0.1 50051

Exits non-zero on the first mismatch.
"""

import sys

from pygnmi.client import gNMIclient


def main(host: str, port: int) -> None:
    with gNMIclient(target=(host, port), username="admin", password="fabric", insecure=True) as gc:
        caps = gc.capabilities()
        assert caps["gnmi_version"] == "0.10.0", caps
        assert "json_ietf" in caps["supported_encodings"], caps

        got = gc.get(path=["/interfaces/interface[name=Ethernet1]/config"], encoding="json_ietf")
        update = got["notification"][0]["update"][0]
        assert update["path"] == "interfaces/interface[name=Ethernet1]/config", update
        assert update["val"]["description"] == "to spine1", update

        resp = gc.set(
            update=[("/interfaces/interface[name=Ethernet1]/config", {"description": "via pygnmi"})],
            encoding="json_ietf",
        )
        ops = [r["op"] for r in resp["response"]]
        assert ops == ["UPDATE"], resp

        got = gc.get(path=["/interfaces/interface[name=Ethernet1]/config/description"], encoding="json_ietf")
        assert got["notification"][0]["update"][0]["val"] == "via pygnmi", got

        once = gc.subscribe2(
            subscribe={
                "subscription": [{"path": "/system/config", "mode": "target_defined"}],
                "mode": "once",
                "encoding": "json_ietf",
            }
        )
        seen_sync = False
        values = {}
        for msg in once:
            if msg.get("sync_response"):
                seen_sync = True
                continue
            for u in msg["update"]["update"]:
                values[u["path"]] = u["val"]
        assert seen_sync, "no sync_response"
        assert values.get("system/config/hostname") == "leaf1", values

    try:
        with gNMIclient(target=(host, port), username="admin", password="wrong", insecure=True) as gc:
            gc.capabilities()
    except Exception as e:  # pygnmi wraps grpc errors in its own exceptions
        assert "UNAUTHENTICATED" in str(e) or "Unauthenticated" in str(e) or "invalid username" in str(e), e
    else:
        raise AssertionError("wrong password accepted")
    print("pygnmi interop: 6 checks passed")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 50051)
