-- Energy units for a dispatch command's state-of-charge imbalance: Wh, kWh and MWh beside the power units it
-- took before (the amount stays the exact decimal string sent, the unit the one sent). Adding Enum values
-- rewrites no data.
ALTER TABLE dispatches MODIFY COLUMN soc_imbalance_unit Nullable(Enum8('W' = 1, 'kW' = 2, 'MW' = 3, 'Wh' = 4, 'kWh' = 5, 'MWh' = 6));
ALTER TABLE dispatches COMMENT COLUMN soc_imbalance_unit 'Unit of soc_imbalance_amount: an energy (Wh, kWh, MWh), or a power unit as earlier senders gave it.';
