"""The analysts' queries of the README, by name, for `trackwire query --named NAME --param k=v`.

The README's analysts' section shows the same SQL (a test keeps the two identical: edit both).
Parameters use ClickHouse's `{name:Type}` form.
"""

NAMED: dict[str, str] = {
    'device_track_for_a_day': """\
-- name: device_track_for_a_day
SELECT time, lat, lon, speed_kmh, course_deg, altitude_m, satellites, battery_pct
FROM trackwire.positions FINAL
WHERE device_id = {device_id:String}
  AND time >= toDateTime64({day:Date}, 3, 'UTC')
  AND time < toDateTime64({day:Date} + 1, 3, 'UTC')
  AND lat IS NOT NULL AND lon IS NOT NULL
  AND ifNull(valid, true)
ORDER BY time
""",
    'sos_alerts_last_24_hours': """\
-- name: sos_alerts_last_24_hours
WITH episodes AS
(
    SELECT
        device_id,
        alarm,
        ifNull(first_time, time)                              AS started,
        max(ifNull(last_time, time))                          AS last_alarm,
        max(ifNull(repeat_count, 1))                          AS presses,
        if(countIf(state = 'cleared') > 0, 'cleared', 'open') AS state,
        argMaxIf(lat, time, lat IS NOT NULL)                  AS alert_lat,
        argMaxIf(lon, time, lat IS NOT NULL)                  AS alert_lon
    FROM trackwire.alerts FINAL
    WHERE alarm IN ('sos', 'fall') AND time >= now64(3) - INTERVAL 24 HOUR
    GROUP BY device_id, alarm, started
)
SELECT
    e.device_id AS device_id,
    e.alarm AS alarm,
    e.started AS started,
    e.last_alarm AS last_alarm,
    e.presses AS presses,
    e.state AS state,
    if(e.alert_lat IS NOT NULL, e.alert_lat, p.lat) AS lat,
    if(e.alert_lat IS NOT NULL, e.alert_lon, p.lon) AS lon,
    multiIf(e.alert_lat IS NOT NULL, 'alert', p.lat IS NOT NULL, 'last fix before', 'unknown') AS located_by
FROM episodes AS e
ASOF LEFT JOIN
(
    SELECT device_id, time, lat, lon
    FROM trackwire.positions FINAL
    WHERE time >= now64(3) - INTERVAL 2 DAY AND lat IS NOT NULL AND lon IS NOT NULL AND ifNull(valid, true)
) AS p ON e.device_id = p.device_id AND e.last_alarm >= p.time
ORDER BY started DESC
SETTINGS join_use_nulls = 1
""",
    'heart_rate_per_hour': """\
-- name: heart_rate_per_hour
SELECT
    toStartOfHour(time)           AS hour,
    count()                       AS readings,
    round(avg(heart_rate_bpm), 1) AS avg_bpm,
    min(heart_rate_bpm)           AS min_bpm,
    max(heart_rate_bpm)           AS max_bpm
FROM trackwire.telemetry FINAL
WHERE device_id = {device_id:String}
  AND time >= toDateTime64({day:Date}, 3, 'UTC')
  AND time < toDateTime64({day:Date} + 1, 3, 'UTC')
  AND heart_rate_bpm IS NOT NULL
GROUP BY hour
ORDER BY hour
""",
    'health_hourly_rollup': """\
-- name: health_hourly_rollup
SELECT
    device_id,
    hour,
    uniqMerge(readings)              AS readings,
    uniqIfMerge(heart_rate_readings) AS heart_rate_readings,
    min(heart_rate_min)              AS heart_rate_min,
    max(heart_rate_max)              AS heart_rate_max,
    min(spo2_min)                    AS spo2_min,
    max(body_temp_max)               AS body_temp_max,
    min(battery_min)                 AS battery_min
FROM trackwire.health_hourly
WHERE hour >= toDateTime({day:Date}, 'UTC') AND hour < toDateTime({day:Date} + 1, 'UTC')
GROUP BY device_id, hour
ORDER BY device_id, hour
""",
    'devices_silent_over_an_hour': """\
-- name: devices_silent_over_an_hour
SELECT
    s.device_id AS device_id,
    s.last_seen AS last_seen,
    dateDiff('minute', s.last_seen, now64(3)) AS silent_minutes,
    p.lat AS last_lat,
    p.lon AS last_lon,
    p.battery_pct AS last_battery_pct
FROM
(
    SELECT device_id, max(last_seen) AS last_seen
    FROM trackwire.device_last_seen
    GROUP BY device_id
    HAVING last_seen < now64(3) - INTERVAL 1 HOUR
) AS s
LEFT JOIN (SELECT * FROM trackwire.latest_positions FINAL) AS p ON p.device_id = s.device_id
ORDER BY last_seen
SETTINGS join_use_nulls = 1
""",
    'latest_position_per_device': """\
-- name: latest_position_per_device
SELECT device_id, time, lat, lon, speed_kmh, battery_pct, source
FROM trackwire.latest_positions FINAL
ORDER BY device_id
""",
    'dead_letters_last_24_hours': """\
-- name: dead_letters_last_24_hours
SELECT stage, reason, protocol, count() AS letters, max(at) AS latest
FROM trackwire.dead_letters FINAL
WHERE at >= now64(3) - INTERVAL 24 HOUR
GROUP BY stage, reason, protocol
ORDER BY letters DESC
""",
}
