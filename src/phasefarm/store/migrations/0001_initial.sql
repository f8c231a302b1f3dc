-- Runs, phases, dynamically added phases and events of the checkpoint store.
-- Values written by phasefarm.store.codec are JSON text (inputs, meta, output, args).

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    flow        TEXT NOT NULL,
    inputs      TEXT NOT NULL,
    mode        TEXT NOT NULL,
    meta        TEXT NOT NULL,
    status      TEXT NOT NULL,            -- running | succeeded | failed | cancelled
    created     REAL NOT NULL,            -- unix time
    updated     REAL NOT NULL,
    elapsed     REAL,                     -- seconds, set by finish_run
    tokens      REAL NOT NULL DEFAULT 0,
    cost        REAL NOT NULL DEFAULT 0,
    stop_reason TEXT,
    lock        TEXT                      -- JSON {pid, host, start, since} of the executor, or NULL
);

CREATE TABLE phases (
    run         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,            -- "layout", "images[3]", "implement_file[src/app.js]"
    status      TEXT NOT NULL,            -- succeeded | failed | skipped | cancelled
    attempts    INTEGER NOT NULL,
    started     REAL,
    finished    REAL,
    output      TEXT,                     -- codec JSON, NULL unless succeeded
    error       TEXT,
    input_hash  TEXT,
    usage       TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run, key)
);

CREATE TABLE added_phases (
    run         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    ord         INTEGER NOT NULL,         -- order in which the phases were added
    template    TEXT NOT NULL,
    needs       TEXT NOT NULL,            -- JSON list
    args        TEXT NOT NULL,            -- codec JSON
    options     TEXT NOT NULL,            -- codec JSON
    added_by    TEXT NOT NULL,
    PRIMARY KEY (run, key)
);

CREATE TABLE events (
    run         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    json        TEXT NOT NULL,
    PRIMARY KEY (run, seq)
);

CREATE INDEX events_by_kind ON events (run, kind, seq);
CREATE INDEX runs_by_created ON runs (created);
