-- Lockgate durable state, schema version 2: several engine nodes on one database.

-- Named roles held by one node at a time (`scheduler`): renewed while the node lives, taken
-- over by another node once `expires_at` (Unix ms) has passed.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Engine nodes (`host:pid`) of `lockgate server`: role, build capacity and liveness. A node
-- whose heartbeat is stale is dead: its running builds are re-queued by the scheduler.
CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    capacity BIGINT NOT NULL,
    running BIGINT NOT NULL DEFAULT 0,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
