# Fast benchmark seeding straight through NetBox's ORM (bulk_create), for when seeding through
# the REST API (the bench's own `seed::bulk`, ~10 objects/s on a busy 2-core machine) is too
# slow. Same objects as `seed::bulk` without port addresses: site `bench`, devices bench-0000..,
# each with Management1 (primary IPv4, VRF mgmt), Loopback0 (an address) and PORTS ports.
# Skips signals: search index and counters stay stale, which the REST API reads do not use.
#
#   DEVICES=500 PORTS=48 NETBOX_ROOT=target/netbox/root target/netbox/venv/bin/netbox shell \
#       < scripts/netbox-bench-seed.py
# Then: cargo run --release -p fabric-netbox --example bench -- --skip-seed
# (Run the bench once without --skip-seed first, or seed::base, so that site and roles exist.)
import os

from dcim.models import Device, DeviceRole, DeviceType, Interface, Platform, Site
from ipam.models import VRF, IPAddress

N = int(os.environ.get("DEVICES", "500"))
P = int(os.environ.get("PORTS", "48"))
site = Site.objects.get(slug="bench")
dt = DeviceType.objects.get(slug="dcs-7050sx3-48yc8")
role = DeviceRole.objects.get(slug="leaf")
platform = Platform.objects.get(slug="eos")
mgmt = VRF.objects.get(name="mgmt")

# Devices an interrupted API seed left without a primary address are made again.
Device.objects.filter(site=site, name__startswith="bench-", primary_ip4__isnull=True).delete()
existing = set(Device.objects.filter(site=site).values_list("name", flat=True))
todo = [d for d in range(N) if f"bench-{d:04}" not in existing]
devices = Device.objects.bulk_create(
    [Device(name=f"bench-{d:04}", site=site, device_type=dt, role=role, platform=platform, status="active") for d in todo],
    batch_size=500,
)
ifaces = []
for d, dev in zip(todo, devices):
    # `_site` is what save() would cache (the interface list's `site` filter reads it).
    ifaces.append(Interface(device=dev, _site=site, name="Management1", type="1000base-t", mgmt_only=True))
    ifaces.append(Interface(device=dev, _site=site, name="Loopback0", type="virtual", description="router id"))
    for i in range(P):
        ifaces.append(Interface(device=dev, _site=site, name=f"Ethernet{i + 1}", type="10gbase-x-sfpp", mtu=9214,
                                description=f"bench port {i + 1} of device {d}"))
Interface.objects.bulk_create(ifaces, batch_size=1000)
by_dev = {}
for it in Interface.objects.filter(device__in=devices, name__in=["Management1", "Loopback0"]):
    by_dev[(it.device_id, it.name)] = it
ips = []
for d, dev in zip(todo, devices):
    ips.append(IPAddress(address=f"172.16.{d // 250}.{d % 250 + 1}/32", vrf=mgmt, status="active",
                         assigned_object=by_dev[(dev.pk, "Management1")]))
    ips.append(IPAddress(address=f"10.255.{d // 250}.{d % 250 + 1}/32", vrf=mgmt, status="active",
                         assigned_object=by_dev[(dev.pk, "Loopback0")]))
IPAddress.objects.bulk_create(ips, batch_size=1000)
for dev, ip in zip(devices, ips[0::2]):
    dev.primary_ip4 = ip
Device.objects.bulk_update(devices, ["primary_ip4"], batch_size=500)
Interface.objects.filter(device__site=site, _site__isnull=True).update(_site=site)
print(f"created {len(devices)} devices, {len(ifaces)} interfaces, {len(ips)} addresses")
