"""pygnmi ON_CHANGE subscription that must receive a change made by another
client. Prints SYNCED after the sync_response, then GOT <value> when the
update arrives.

usage: pygnmi_subscribe.py HOST PORT USERNAME PASSWORD EXPECTED
"""
import sys
import threading

from pygnmi.client import gNMIclient

host, port, user, password, expected = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

# The test drives the change; give up if it never comes.
threading.Timer(30, lambda: (print("FAIL timeout", flush=True), __import__("os")._exit(1))).start()

sub = {
    "subscription": [
        {"path": "/interfaces/interface[name=Ethernet1]/config/description", "mode": "on_change"},
    ],
    "mode": "stream",
    "encoding": "json_ietf",
}

with gNMIclient(target=(host, port), username=user, password=password, insecure=True) as gc:
    synced = False
    for msg in gc.subscribe_stream(subscribe=sub):
        if msg.get("sync_response"):
            synced = True
            print("SYNCED", flush=True)
            continue
        for u in msg.get("update", {}).get("update", []):
            if synced and u.get("val") == expected:
                print(f"GOT {u['val']}", flush=True)
                __import__("os")._exit(0)
