-- A heartbeat's GPU samples move into its telemetry_host row, as a JSON
-- array of [idx, temp_c, power_mw, power_limit_mw, util_pct, mem_used,
-- mem_total, fan_pct, sm_clock_mhz] per GPU: one row per heartbeat instead
-- of one per GPU as well, which is what bounded the samples stored per
-- second (each row is a b-tree insert, and each device's rows dirty their
-- own pages on every flush).
ALTER TABLE telemetry_host ADD COLUMN gpus TEXT NOT NULL DEFAULT '[]';

UPDATE telemetry_host SET gpus = (
    SELECT json_group_array(json(s)) FROM (
        SELECT json_array(idx, temp_c, power_mw, power_limit_mw, util_pct, mem_used, mem_total, fan_pct, sm_clock_mhz) AS s
        FROM telemetry_gpu g
        WHERE g.device_id = telemetry_host.device_id AND g.ts = telemetry_host.ts
        ORDER BY idx))
WHERE EXISTS (SELECT 1 FROM telemetry_gpu g WHERE g.device_id = telemetry_host.device_id AND g.ts = telemetry_host.ts);

DROP TABLE telemetry_gpu;
