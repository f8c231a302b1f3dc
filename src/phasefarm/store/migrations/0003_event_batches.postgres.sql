-- Postgres twin of 0003_event_batches.sql: events stored by committed group, one JSON array
-- per group; existing events move over as groups of one.

CREATE TABLE event_batches (
    run         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    first_seq   BIGINT NOT NULL,
    last_seq    BIGINT NOT NULL,
    progress    TEXT,
    json        TEXT NOT NULL,
    PRIMARY KEY (run, first_seq)
);

INSERT INTO event_batches (run, first_seq, last_seq, progress, json)
SELECT run, seq, seq,
       CASE WHEN kind = 'progress' THEN (json::json -> 'data')::text END,
       '[' || json || ']'
FROM events ORDER BY run, seq;

DROP TABLE events;
