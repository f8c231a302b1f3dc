-- Events stored by committed group: one row per group, its events one JSON array (an event the
-- engine wrote is an array [seq, t, kind, run_id, phase, data]; one given as a dict, an object).
-- One row per event cost about 19 µs per phase in the writer thread (a dict per event, a row
-- insert each); see store/eventlog.py. `progress` is the data (JSON) of the group's last
-- `progress` event, NULL if it has none: `list_runs` walks a run's groups back to the latest.
-- Existing events move over as groups of one, their stored objects kept as they were.

CREATE TABLE event_batches (
    run         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    progress    TEXT,
    json        TEXT NOT NULL,
    PRIMARY KEY (run, first_seq)
);

INSERT INTO event_batches (run, first_seq, last_seq, progress, json)
SELECT run, seq, seq,
       CASE WHEN kind = 'progress' THEN json_extract(json, '$.data') END,
       '[' || json || ']'
FROM events ORDER BY run, seq;

DROP TABLE events;
