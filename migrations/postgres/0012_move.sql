-- A sync to a list the affiliate's campaign no longer uses is retired when the merchant moves the
-- affiliates to the new list, or when Klaviyo is reconnected to another account. With `leave_list`
-- the retired row takes them out of that list (membership only: consent is theirs); without it
-- their membership there stays as it is and Rekomi no longer works the row. Only current rows are
-- re-sent, checked and counted; erasure still covers every list Rekomi ever used.
ALTER TABLE klaviyo_syncs ADD COLUMN retired_at BIGINT;
ALTER TABLE klaviyo_syncs ADD COLUMN leave_list BOOLEAN NOT NULL DEFAULT FALSE;
