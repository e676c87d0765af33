-- Indexes that the plans in docs/postgres.md asked for (scripts/explain_hot.py shows them).

-- The thread index held a (chat_id, NULL, id) entry for every message, though nearly all
-- are in no thread: on the seeded database it was larger than the (chat_id, id) key itself,
-- and one more index entry to write on every send. Both queries that use it ask
-- `thread_id = ?`, which implies NOT NULL, so a partial index serves them on both engines.
DROP INDEX messages_thread;
CREATE INDEX messages_thread ON messages (chat_id, thread_id, id) WHERE thread_id IS NOT NULL;

-- channels.moved_since (getDifference with a date) asks which of *this user's* channels
-- moved since then. With an index on pts_date the planner starts from every channel that
-- moved since then, system-wide, estimating a handful (new dates lie above the statistics'
-- histogram) while they are all the busy channels there are, and probes the user's
-- membership of each: 671 probes for a user in 262 chats on the seeded database, growing
-- with everyone's activity. Without it the plan starts from the user's own memberships.
DROP INDEX chats_pts_date;
