-- Postgres twin of 0001_initial.sql: same tables, same columns, Postgres types.
-- Values written by phasefarm.store.codec are JSON text (inputs, meta, output, args).

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    flow        TEXT NOT NULL,
    inputs      TEXT NOT NULL,
    mode        TEXT NOT NULL,
    meta        TEXT NOT NULL,
    status      TEXT NOT NULL,
    created     DOUBLE PRECISION NOT NULL,
    updated     DOUBLE PRECISION NOT NULL,
    elapsed     DOUBLE PRECISION,
    tokens      DOUBLE PRECISION NOT NULL DEFAULT 0,
    cost        DOUBLE PRECISION NOT NULL DEFAULT 0,
    stop_reason TEXT,
    lock        TEXT
);

CREATE TABLE phases (
    ord         BIGSERIAL,                -- order of first save (SQLite uses its rowid)
    run         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    started     DOUBLE PRECISION,
    finished    DOUBLE PRECISION,
    output      TEXT,
    error       TEXT,
    input_hash  TEXT,
    usage       TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run, key)
);

CREATE TABLE added_phases (
    run         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    ord         INTEGER NOT NULL,
    template    TEXT NOT NULL,
    needs       TEXT NOT NULL,
    args        TEXT NOT NULL,
    options     TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    PRIMARY KEY (run, key)
);

CREATE TABLE events (
    run         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    json        TEXT NOT NULL,
    PRIMARY KEY (run, seq)
);

CREATE INDEX events_by_kind ON events (run, kind, seq);
CREATE INDEX runs_by_created ON runs (created);
