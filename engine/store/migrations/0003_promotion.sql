-- Lockgate durable state, schema version 3: the promotion model of docs/promotion.md.

-- The candidate a build is judged against: its environment's state when it was claimed, with
-- its own promoted inputs laid over it. NULL until claimed, and for jobs of environments
-- without promoted resources.
ALTER TABLE builds ADD COLUMN candidate_id BIGINT REFERENCES candidates (id);
-- The build's place in its job's order: its own id, or for a build re-queued after a crash the
-- order of the build it re-runs. NULL means `id`. An environment's state only moves forward in
-- this order.
ALTER TABLE builds ADD COLUMN build_order BIGINT;

-- What each environment has of each promoted resource: the version of the newest (by build
-- order) succeeded build that set it.
CREATE TABLE environment_state (
    environment TEXT NOT NULL,
    resource TEXT NOT NULL,
    version_id BIGINT NOT NULL REFERENCES resource_versions (id),
    build_id BIGINT NOT NULL REFERENCES builds (id),
    build_order BIGINT NOT NULL,
    PRIMARY KEY (environment, resource)
);

-- One row per environment, locked by every transaction that records promotion in it, so that
-- two builds finishing at once on two nodes judge qualification one after the other.
CREATE TABLE environment_locks (
    name TEXT PRIMARY KEY
);

-- `deployed` is recorded per deployment; `tested` once per build.
CREATE INDEX candidate_events_by_build ON candidate_events (build_id);
