-- A notification keeps the trace it was published in (a W3C trace id, 32 hex digits), so its
-- spans can be found from it; NULL when it was published with tracing off.
ALTER TABLE "notifications" ADD COLUMN "trace_id" TEXT;
