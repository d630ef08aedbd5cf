-- Webhook secret rotation (POST /v1/webhooks/{id}/rotate-secret): a subscription's previous secret stays valid
-- until previous_secret_expires_ms, and every delivery until then is signed with both (io/webhooks/signature.ts).
-- Rows written before this migration read as never rotated.
-- @note Debian's 18.16 has no ADD COLUMN IF NOT EXISTS: there the plain ADD COLUMN runs once, as migrations
-- @note are recorded, and the comment is set by COMMENT COLUMN (see sql/008_envelope_imputation.sql).
-- @if add_column_if_not_exists
ALTER TABLE webhook_subscriptions ADD COLUMN IF NOT EXISTS previous_secret String DEFAULT '' COMMENT 'The secret before the last rotation, still signing deliveries until previous_secret_expires_ms; empty when none. Kept as given, as secret is: restrict who can read this table.';
-- @else
-- ALTER TABLE webhook_subscriptions ADD COLUMN previous_secret String DEFAULT '' COMMENT 'The secret before the last rotation, still signing deliveries until previous_secret_expires_ms; empty when none. Kept as given, as secret is: restrict who can read this table.';
-- ALTER TABLE webhook_subscriptions COMMENT COLUMN previous_secret 'The secret before the last rotation, still signing deliveries until previous_secret_expires_ms; empty when none. Kept as given, as secret is: restrict who can read this table.';
-- @end
-- @if add_column_if_not_exists
ALTER TABLE webhook_subscriptions ADD COLUMN IF NOT EXISTS previous_secret_expires_ms UInt64 DEFAULT 0 COMMENT 'When previous_secret stops signing deliveries, epoch ms; 0 when there is none.';
-- @else
-- ALTER TABLE webhook_subscriptions ADD COLUMN previous_secret_expires_ms UInt64 DEFAULT 0 COMMENT 'When previous_secret stops signing deliveries, epoch ms; 0 when there is none.';
-- ALTER TABLE webhook_subscriptions COMMENT COLUMN previous_secret_expires_ms 'When previous_secret stops signing deliveries, epoch ms; 0 when there is none.';
-- @end
