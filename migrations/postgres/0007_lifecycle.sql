-- An affiliate's life after approval: why the merchant disabled (or otherwise changed) them is
-- kept with the audit entry that records who did it.
ALTER TABLE audit_log ADD COLUMN note TEXT;
