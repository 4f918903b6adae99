"""Topics the cluster subsystem publishes; each event's data is the node's view.

node.joined    a node became a member (on every member, the joiner included)
node.online    a member was heard from after being suspect or offline (or for the first time)
node.suspect   a member has been silent for `suspect_after` seconds
node.offline   a member has been silent for `offline_after` seconds
node.left      a member left the cluster on its own
node.evicted   a member was evicted (on the evicted node too: it is then alone)
"""

NODE_JOINED = "node.joined"
NODE_ONLINE = "node.online"
NODE_SUSPECT = "node.suspect"
NODE_OFFLINE = "node.offline"
NODE_LEFT = "node.left"
NODE_EVICTED = "node.evicted"
