-- Only the `list_runs` query reads events by kind (a run's latest `progress` event), so only
-- progress events are indexed: every other event row skips the index write, about a fifth of
-- the cost of storing it (`phasefarm bench overhead`, store rows).
DROP INDEX events_by_kind;
CREATE INDEX events_progress ON events (run, seq) WHERE kind = 'progress';
