"""Discovery: advertise this node as `_openfabric._tcp.local.` and find other agents on the LAN.

`create(ctx)` wires the subsystem from `ctx.cluster`: what to advertise (read again whenever
this node joins or leaves a cluster), who is a member (members are not listed as
discovered), and where members were seen (a hint for the peer channel). Other subsystems read
`subsystem.service` (`discovered()`, `get()`) and listen to `discovery.found` / `.lost`.
"""
