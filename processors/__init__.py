"""Processors: raw frames -> positions, alerts, SOS, telemetry and device events, with per-device state.

Pure logic, testable without Kafka:
- `decoding`  envelope -> the codec's records, numbered (frame_id, frame_index); sanity check of fixes
- `rules`     per-device episodes: SOS/fall de-duplication, offline, low battery, health thresholds
- `state`     DeviceState (last seen/frame, last fix, battery, health readings, open episodes), msgpack
- `pipeline`  one raw-frame message -> the messages to publish, state in any key-value mapping
- `deadlines` the timer's deadline heap, and the per-partition clock used while catching up
- `settings`  TRACKWIRE_PROCESSOR_* settings and thresholds, global and per device

Faust wiring: `app` (agent, table, timer); `cli_cmd.run_process` (`trackwire process`,
`python -m processors`).
"""
